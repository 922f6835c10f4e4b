import { Queue, Worker, type Job, type Processor } from 'bullmq';
import { backgroundSlots, type BackgroundSlots } from './background-slots';
import { createRedisConnection, type RedisTarget } from './connection';
import type { JobOutcome, ProcessorFn } from './jobs';

export interface WorkerPoolOptions extends RedisTarget {
  prefix: string;
  /** Jobs in flight per queue. */
  concurrency: Record<string, number>;
  /**
   * Per queue, how many of its slots jobs added with a priority (background work: the backfill) may hold at once;
   * the rest stay free for new work (see backgroundSlots). Unlimited for a queue not named.
   */
  backgroundLimit?: Record<string, number>;
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

/** A background job (added with a priority) runs in one of its queue's background turns; any other job at once. */
function limitingBackground(processor: ProcessorFn<never>, slots: BackgroundSlots): Processor<never, JobOutcome> {
  return (job, token) => (job.opts.priority ? slots.run(job, token, () => processor(job)) : processor(job));
}

/** One BullMQ worker per queue, all sharing a blocking-safe connection. */
export function startWorkers(processors: Record<string, ProcessorFn<never>>, options: WorkerPoolOptions): WorkerPool {
  const connection = createRedisConnection(options, 'worker');
  connection.on('error', (error) => options.onError?.('redis', error));
  const lockDuration = options.lockDurationMs ?? 30_000;
  const limited: Array<{ slots: BackgroundSlots; waiting: Queue }> = [];
  const workers = Object.entries(processors).map(([queue, processor]) => {
    const limit = options.backgroundLimit?.[queue];
    let run: Processor<never, JobOutcome> = processor;
    if (limit !== undefined) {
      // Jobs added without a priority wait in the queue's wait list (prioritized ones in a set of their own).
      const waiting = new Queue(queue, { connection, prefix: options.prefix });
      const slots = backgroundSlots(limit, async () => (await waiting.getWaitingCount()) > 0);
      limited.push({ slots, waiting });
      run = limitingBackground(processor, slots);
    }
    const worker = new Worker<never, JobOutcome>(queue, run, {
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
      for (const { slots } of limited) slots.close();
      await Promise.all(workers.map((worker) => worker.close()));
      await Promise.all(limited.map(({ waiting }) => waiting.close()));
      connection.disconnect();
    },
  };
}
