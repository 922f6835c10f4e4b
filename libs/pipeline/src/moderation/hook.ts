import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ModerationDecision } from '@renditions/db';
import { postSignedJson } from '@renditions/events';
import type { ImageResource } from '../image-resource';
import type { Services } from '../services';

export const MODERATION_REQUESTED = 'image.moderation.requested';

/** What the hook gets: the image resource plus where to fetch the pixels it judges. */
export interface ModerationRequestData extends ImageResource {
  /** The metadata-free original: the hook judges what the public would see, never the uploader's EXIF or GPS. */
  source_url: string;
}

/** The hook answered, but not `200 {"verdict": ..., "reason": ...}`: counts as a failed attempt. */
export class ModerationHookError extends Error {
  override name = 'ModerationHookError';
}

const MAX_REASON_LENGTH = 1000;

const hookAnswer = z.object({
  verdict: z.enum(['allow', 'reject', 'review']),
  reason: z.string().max(MAX_REASON_LENGTH).nullish(),
});

/** Stable across the retries of one job (Standard Webhooks receivers dedupe on it), new for a re-created flow. */
export function moderationEventId(jobId: string, jobCreatedAt: number): string {
  return `msg_${createHash('sha256').update(`${jobId}.${jobCreatedAt}`).digest('hex').slice(0, 32)}`;
}

export function moderationRequestBody(resource: ImageResource, at: Date = new Date()): string {
  const data: ModerationRequestData = { ...resource, source_url: resource.url };
  return JSON.stringify({ type: MODERATION_REQUESTED, timestamp: at.toISOString(), data });
}

function excerpt(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text);
}

/**
 * @throws {ModerationHookError} unless the answer is `200 {"verdict": "allow" | "reject" | "review", "reason"?: string}`
 */
export function parseHookAnswer(statusCode: number, body: string): ModerationDecision {
  if (statusCode !== 200) throw new ModerationHookError(`Expected status 200 from the moderation hook but received ${statusCode}`);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new ModerationHookError(`Expected JSON from the moderation hook but received ${excerpt(body)}`);
  }
  const parsed = hookAnswer.safeParse(json);
  if (!parsed.success) {
    throw new ModerationHookError(
      `Expected {"verdict": "allow" | "reject" | "review", "reason"?: string of at most ${MAX_REASON_LENGTH} characters} ` +
        `from the moderation hook but received ${excerpt(body)}`,
    );
  }
  return { verdict: parsed.data.verdict, reason: parsed.data.reason ?? null };
}

/**
 * Asks the external hook once, signed like every webhook, within MODERATION_TIMEOUT_MS.
 * @throws {ModerationHookError} an answer that is not a verdict
 * @throws {ForbiddenAddressError} the hook is on a private address while those are refused
 * @throws on network errors and timeouts
 */
export async function requestHookVerdict(
  services: Services,
  hookUrl: string,
  resource: ImageResource,
  eventId: string,
): Promise<ModerationDecision> {
  const result = await postSignedJson(hookUrl, moderationRequestBody(resource), {
    secret: await services.webhookSecret(),
    eventId,
    timeoutMs: services.config.moderation.timeoutMs,
    allowPrivate: services.config.webhooks.allowPrivate,
  });
  return parseHookAnswer(result.statusCode, result.body);
}
