import type { FlowJob, JobsOptions } from 'bullmq';
import { jobIdFor } from './jobs';
import { CHILD_QUEUES, type QueueName } from './names';

const RETENTION: Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'> = {
  removeOnComplete: true,
  // Failed jobs stay a while so an admin can read and retry them in Bull Board.
  removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
};

const ATTEMPTS: Record<QueueName, number> = {
  strip: 5,
  phash: 5,
  moderation: 5,
  render: 5,
  'render-avif': 5,
  settle: 10,
  webhook: 8,
};

/** Options of a webhook delivery: its own attempts, exponential backoff with jitter so retries do not stampede. */
export function webhookJobOptions(attempts: number, jobId: string): JobsOptions {
  return {
    jobId,
    attempts,
    backoff: { type: 'exponential', delay: 2000, jitter: 0.5 },
    ...RETENTION,
  };
}

function jobOptions(queue: QueueName, sha256: string): JobsOptions {
  return {
    jobId: jobIdFor(queue, sha256),
    attempts: ATTEMPTS[queue],
    backoff: { type: 'exponential', delay: 1000 },
    ...RETENTION,
  };
}

/**
 * One asset's work as a BullMQ flow: the `settle` parent runs once every child has completed or failed for
 * good (`ignoreDependencyOnFailure`), so an image always settles and never stays `processing`.
 */
export function assetFlow(sha256: string): FlowJob {
  return {
    name: 'settle',
    queueName: 'settle',
    data: { sha256 },
    opts: jobOptions('settle', sha256),
    children: CHILD_QUEUES.map((queue) => ({
      name: queue,
      queueName: queue,
      data: { sha256 },
      opts: { ...jobOptions(queue, sha256), ignoreDependencyOnFailure: true },
    })),
  };
}
