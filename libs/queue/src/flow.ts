import type { FlowJob, JobsOptions } from 'bullmq';
import { jobIdFor } from './jobs';
import { FLOW_TREE, type QueueName } from './names';

const RETENTION: Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'> = {
  removeOnComplete: true,
  // Failed jobs stay a while so an admin can read and retry them in Bull Board.
  removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
};

/** The queues of an asset's flow; webhook deliveries have their own policy (WebhookRetryPolicy). */
type FlowQueue = Exclude<QueueName, 'webhook'>;

const ATTEMPTS: Record<FlowQueue, number> = {
  strip: 5,
  phash: 5,
  moderation: 5,
  render: 5,
  'render-avif': 5,
  settle: 10,
};

/** How a webhook event is retried: `backoffMs` doubles at each retry, jitter takes up to half of it off. */
export interface WebhookRetryPolicy {
  attempts: number;
  backoffMs: number;
}

/** Options of a webhook delivery: its own attempts, exponential backoff with jitter so retries do not stampede. */
export function webhookJobOptions(retry: WebhookRetryPolicy, jobId: string): JobsOptions {
  return {
    jobId,
    attempts: retry.attempts,
    backoff: { type: 'exponential', delay: retry.backoffMs, jitter: 0.5 },
    ...RETENTION,
  };
}

/** What a deployment tunes about an asset's flow. */
export interface AssetFlowOptions {
  /** Attempts of the moderation job (MODERATION_ATTEMPTS): each one asks the external hook once. */
  moderationAttempts?: number;
}

function jobOptions(queue: FlowQueue, sha256: string, attempts = ATTEMPTS[queue]): JobsOptions {
  return {
    jobId: jobIdFor(queue, sha256),
    attempts,
    backoff: { type: 'exponential', delay: 1000 },
    ...RETENTION,
  };
}

/**
 * One asset's work as a BullMQ flow (shape in FLOW_TREE): the `settle` parent runs once every job below it has
 * completed or failed for good (`ignoreDependencyOnFailure` at every level), so an image always settles and never
 * stays `processing`.
 */
export function assetFlow(sha256: string, options: AssetFlowOptions = {}): FlowJob {
  const child = (queue: FlowQueue, children: readonly FlowQueue[] = []): FlowJob => ({
    name: queue,
    queueName: queue,
    data: { sha256 },
    opts: {
      ...jobOptions(queue, sha256, queue === 'moderation' ? options.moderationAttempts : undefined),
      ignoreDependencyOnFailure: true,
    },
    ...(children.length > 0 ? { children: children.map((queue) => child(queue)) } : {}),
  });
  return {
    name: 'settle',
    queueName: 'settle',
    data: { sha256 },
    opts: jobOptions('settle', sha256),
    children: Object.entries(FLOW_TREE).map(([queue, children]) => child(queue as FlowQueue, children)),
  };
}
