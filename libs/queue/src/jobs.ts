import type { Job } from 'bullmq';

/** Every stage job works on one generation of an asset, in one run of its flow (a retry starts the next run). */
export interface AssetJobData {
  assetId: string;
  run: number;
}

/**
 * A backfill re-render (`npm run reprocess`) of an asset on the queue of a stage that renders: what to re-render is
 * marked on its renditions in the database, so there is one such job per asset and queue at a time.
 */
export interface ReprocessJobData {
  assetId: string;
  reprocess: true;
}

/** What a stage's queue carries: a run of the asset's flow, or a backfill re-render. */
export type StageJobData = AssetJobData | ReprocessJobData;

export function isReprocessJob(data: StageJobData): data is ReprocessJobData {
  return 'reprocess' in data && data.reprocess;
}

/**
 * Durable removal work: a deleted image's CDN copies (and its asset, when it was the last upload of it), or a
 * rejected asset's objects and CDN copies. Retried until storage and the CDN accept.
 */
export type CleanupJobData = { kind: 'deleted-image'; imageId: string } | { kind: 'takedown'; assetId: string };

/** One webhook event to one receiver; the body is signed at each attempt with a fresh timestamp. */
export interface WebhookJobData {
  imageId: string;
  url: string;
  /** Standard Webhooks `webhook-id`, stable across retries. */
  eventId: string;
  eventType: string;
  body: string;
}

/** What a finished job reports; `skipped` when there was nothing to do (asset deleted, already done). */
export type JobOutcome = { outcome: 'done' | 'skipped'; detail?: string };

export type ProcessorFn<Data> = (job: Job<Data, JobOutcome>) => Promise<JobOutcome>;

/** Deterministic, colon-free job ids make enqueueing idempotent: adding an existing id is a no-op. */
export function stageJobId(queue: string, data: AssetJobData): string {
  return `${queue}-${data.assetId}-r${data.run}`;
}

export function reprocessJobId(queue: string, assetId: string): string {
  return `${queue}-${assetId}-reprocess`;
}

export function cleanupJobId(data: CleanupJobData): string {
  return data.kind === 'takedown' ? `takedown-${data.assetId}` : `deleted-${data.imageId}`;
}
