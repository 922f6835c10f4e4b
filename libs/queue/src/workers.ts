import { Worker, type Job } from 'bullmq';
import { createRedisConnection } from './connection';
import type { JobOutcome, ProcessorMap } from './jobs';
import { QUEUE_NAMES, type QueueName } from './names';

export interface WorkerPoolOptions {
  redisUrl: string;
  prefix: string;
  concurrency: Record<QueueName, number>;
  /** How long a job's lock lives without renewal; a crashed worker's job runs again after this. */
  lockDurationMs?: number;
  onFailed?: (queue: QueueName, job: Job | undefined, error: Error, final: boolean) => void;
  onCompleted?: (queue: QueueName, job: Job, durationMs: number) => void;
  onError?: (queue: QueueName, error: Error) => void;
}

export interface WorkerPool {
  /** Finishes jobs in flight (or hands them back once the timeout passes) and disconnects. */
  close(): Promise<void>;
}

/** One typed BullMQ worker per queue, all sharing a blocking-safe connection. */
export function startWorkers(processors: ProcessorMap, options: WorkerPoolOptions): WorkerPool {
  const connection = createRedisConnection(options.redisUrl, 'worker');
  connection.on('error', () => undefined);
  const workers = QUEUE_NAMES.map((queue) => {
    const worker = new Worker<unknown, JobOutcome>(queue, processors[queue] as never, {
      connection,
      prefix: options.prefix,
      concurrency: options.concurrency[queue],
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: Math.max(1000, Math.floor((options.lockDurationMs ?? 30_000) / 2)),
      maxStalledCount: 2,
    });
    worker.on('error', (error) => options.onError?.(queue, error));
    worker.on('failed', (job, error) => {
      const final = !job || job.attemptsMade >= (job.opts.attempts ?? 1) || error.name === 'UnrecoverableError';
      options.onFailed?.(queue, job, error, final);
    });
    worker.on('completed', (job) => {
      const durationMs = job.finishedOn && job.processedOn ? job.finishedOn - job.processedOn : 0;
      options.onCompleted?.(queue, job, durationMs);
    });
    return worker;
  });
  return {
    async close() {
      await Promise.all(workers.map((worker) => worker.close()));
      connection.disconnect();
    },
  };
}
