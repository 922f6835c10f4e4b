import { Worker, type Job } from 'bullmq';
import { createRedisConnection } from './connection';
import type { JobOutcome, ProcessorFn } from './jobs';

export interface WorkerPoolOptions {
  redisUrl: string;
  prefix: string;
  /** Jobs in flight per queue. */
  concurrency: Record<string, number>;
  /** How long a job's lock lives without renewal; a crashed worker's job runs again after this. */
  lockDurationMs?: number;
  onFailed?: (queue: string, job: Job | undefined, error: Error, final: boolean) => void;
  onCompleted?: (queue: string, job: Job, durationMs: number) => void;
  onError?: (queue: string, error: Error) => void;
}

export interface WorkerPool {
  /** Finishes jobs in flight (or hands them back once the timeout passes) and disconnects. */
  close(): Promise<void>;
}

/** Whether BullMQ will try this job again after this failure. */
function isFinalFailure(job: Pick<Job, 'attemptsMade' | 'opts'>, error: Error): boolean {
  return error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
}

/** One BullMQ worker per queue, all sharing a blocking-safe connection. */
export function startWorkers(processors: Record<string, ProcessorFn<never>>, options: WorkerPoolOptions): WorkerPool {
  const connection = createRedisConnection(options.redisUrl, 'worker');
  connection.on('error', (error) => options.onError?.('redis', error));
  const lockDuration = options.lockDurationMs ?? 30_000;
  const workers = Object.entries(processors).map(([queue, processor]) => {
    const worker = new Worker<never, JobOutcome>(queue, processor, {
      connection,
      prefix: options.prefix,
      concurrency: options.concurrency[queue] ?? 1,
      lockDuration,
      stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
      maxStalledCount: 2,
    });
    worker.on('error', (error) => options.onError?.(queue, error));
    worker.on('failed', (job, error) => options.onFailed?.(queue, job, error, !job || isFinalFailure(job, error)));
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
