import {
  findAsset,
  findBlockedHashesNear,
  listLiveImagesOfAsset,
  setStageStatus,
  type Asset,
  type Image,
  type ModerationDecision,
} from '@renditions/db';
import { ForbiddenAddressError } from '@renditions/events';
import { computePhash } from '@renditions/imaging';
import type { JobOutcome } from '@renditions/queue';
import { getImageResource } from '../images';
import type { Services } from '../services';
import { requestHookVerdict } from './hook';
import { takeDownAsset } from './takedown';
import { applyModerationDecision } from './verdict';

/** Near-duplicates of a blocked hash within this many bits are rejected without asking the hook. */
export const BLOCKLIST_MAX_DISTANCE = 6;

export interface ModerationAttempt {
  /** The Standard Webhooks id of the hook request: the same across the retries of one moderation job. */
  eventId: string;
  /** The job's last attempt: a failure now applies MODERATION_FAIL_MODE instead of being retried. */
  lastAttempt: boolean;
}

/** What MODERATION_FAIL_MODE decides once moderation kept failing: `open` serves the image, `closed` takes it down. */
export function failModeDecision(mode: 'open' | 'closed', error: unknown): ModerationDecision {
  const message = error instanceof Error ? error.message : String(error);
  const cause = message.length > 300 ? `${message.slice(0, 300)}...` : message;
  return mode === 'open'
    ? { verdict: 'allow', reason: `moderation failed (${cause}); allowed because MODERATION_FAIL_MODE=open` }
    : { verdict: 'reject', reason: `moderation failed (${cause}); rejected because MODERATION_FAIL_MODE=closed` };
}

/**
 * The moderation stage: the hash blocklist first, then the external hook when MODERATION_WEBHOOK_URL is set
 * (the built-in provider allows). A failure is retried by the job; on its last attempt, or when the hook's address
 * is refused (retrying cannot help), the fail mode decides, so moderation itself never fails for good.
 */
export async function moderateAsset(services: Services, sha256: string, attempt: ModerationAttempt): Promise<JobOutcome> {
  const asset = await findAsset(services.db, sha256);
  if (!asset) return { outcome: 'skipped', detail: 'asset deleted' };
  if (asset.moderationVerdict === 'reject') {
    // Rejected already, by an admin or by an earlier attempt that could not finish the takedown: finish it.
    await takeDownAsset(services, sha256);
    return { outcome: 'skipped', detail: 'already rejected' };
  }
  if (asset.moderationStatus === 'ready') return { outcome: 'skipped', detail: 'already moderated' };
  const [image] = (await listLiveImagesOfAsset(services.db, sha256)).sort(
    (a, b) => a.createdAt.getTime() - b.createdAt.getTime(),
  );
  if (!image) return { outcome: 'skipped', detail: 'asset deleted' };
  await setStageStatus(services.db, sha256, 'moderation', 'processing');

  let decision: ModerationDecision;
  try {
    decision = await decide(services, asset, image, attempt.eventId);
  } catch (error) {
    if (!attempt.lastAttempt && !(error instanceof ForbiddenAddressError)) throw error;
    decision = failModeDecision(services.config.moderation.failMode, error);
    services.logger.warn({ err: error, sha256, verdict: decision.verdict }, 'moderation kept failing; the fail mode decided');
  }
  const applied = await applyModerationDecision(services, sha256, decision, { undecidedOnly: true });
  return applied ? { outcome: 'done', detail: decision.verdict } : { outcome: 'skipped', detail: 'decided meanwhile' };
}

async function decide(services: Services, asset: Asset, image: Image, eventId: string): Promise<ModerationDecision> {
  const phash = asset.phash ?? (await hashNow(services, asset));
  const blocked = await findBlockedHashesNear(services.db, phash, BLOCKLIST_MAX_DISTANCE);
  if (blocked.length > 0) return { verdict: 'reject', reason: 'blocklist' };
  const hookUrl = services.config.moderation.webhookUrl;
  if (!hookUrl) return { verdict: 'allow', reason: null };
  // Fresh: the hook sees the stages as they are now, the hash just computed included.
  const resource = await getImageResource(services, image.id);
  return requestHookVerdict(services, hookUrl, resource, eventId);
}

/**
 * Moderation runs after the phash job (FLOW_TREE), but that job may have failed for good, and the blocklist
 * cannot be skipped: hash here then (a 32x32 shrink-on-load decode, milliseconds) and record it.
 */
async function hashNow(services: Services, asset: Asset): Promise<bigint> {
  const phash = BigInt.asIntN(64, await computePhash(await services.storage.getBuffer(asset.originalKey)));
  await setStageStatus(services.db, asset.sha256, 'phash', 'ready', { phash });
  return phash;
}
