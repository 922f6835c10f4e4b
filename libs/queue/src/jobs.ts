import type { Job } from 'bullmq';
import type { QueueName } from './names';

/** Every job works on one asset, identified by the SHA-256 of its bytes. */
export interface AssetJobData {
  sha256: string;
}

/** What a finished job reports; `skipped` when there was nothing to do (asset deleted, already done). */
export type JobOutcome = { outcome: 'done' | 'skipped'; detail?: string };

/** One webhook event to one receiver; the body is signed at each attempt with a fresh timestamp. */
export interface WebhookJobData {
  imageId: string;
  url: string;
  /** Standard Webhooks `webhook-id`, stable across retries. */
  eventId: string;
  eventType: string;
  body: string;
}

export type JobDataMap = { [Q in Exclude<QueueName, 'webhook'>]: AssetJobData } & { webhook: WebhookJobData };

export type ProcessorFn<Q extends QueueName> = (job: Job<JobDataMap[Q], JobOutcome, Q>) => Promise<JobOutcome>;

/** A processor per queue; leaving one out is a type error. */
export type ProcessorMap = { [Q in QueueName]: ProcessorFn<Q> };

/** Deterministic, colon-free job ids make enqueueing idempotent: adding an existing id is a no-op. */
export function jobIdFor(queue: QueueName, sha256: string): string {
  return `${queue}-${sha256}`;
}
