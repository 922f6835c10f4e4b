import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { throwawayQueuePrefix } from '../../../test/support/test-run';
import type { JobOutcome, ProcessorFn } from '../src/jobs';
import { BACKFILL_PRIORITY } from '../src/producer';
import { startWorkers, type WorkerPool } from '../src/workers';

const REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * The worker pool's background limit on real Redis and BullMQ: backfill jobs (added with a priority) fill the free
 * slots while nothing else waits, but never keep a new job (added without one) from starting.
 */
describe('background work in a worker pool', () => {
  const prefix = throwawayQueuePrefix();
  let pool: WorkerPool | undefined;
  let queue: Queue | undefined;
  let releaseBackfill = () => {};
  afterEach(async () => {
    // A failed assertion must not leave the pool waiting for held jobs as it closes.
    releaseBackfill();
    await pool?.close();
    await queue?.close();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('keeps backfill jobs to their limit, and hands a waiting one back as soon as a new job arrives', async () => {
    const backfillHeld = new Promise<void>((resolve) => (releaseBackfill = resolve));
    const started: string[] = [];
    const failed: string[] = [];
    const processor: ProcessorFn<{ kind: string }> = async (job) => {
      started.push(`${job.data.kind} ${job.id}`);
      if (job.data.kind === 'backfill') await backfillHeld;
      return { outcome: 'done' } satisfies JobOutcome;
    };
    pool = startWorkers(
      { render: processor as ProcessorFn<never> },
      {
        redisUrl: REDIS_URL,
        prefix,
        concurrency: { render: 3 },
        backgroundLimit: { render: 1 },
        onFailed: (_queue, job) => failed.push(String(job?.id)),
      },
    );
    queue = new Queue('render', { connection: { url: REDIS_URL }, prefix });
    for (let i = 1; i <= 5; i += 1) await queue.add('reprocess', { kind: 'backfill' }, { jobId: `b${i}`, priority: BACKFILL_PRIORITY });

    // Three slots take three backfill jobs; one of them runs, the other two wait for its turn.
    await waitUntil(async () => (await queue!.getActiveCount()) === 3);
    await sleep(300);
    expect(started).toEqual(['backfill b1']);

    const arrived = Date.now();
    await queue.add('render', { kind: 'new' }, { jobId: 'n1' });
    await waitUntil(async () => started.includes('new n1'));
    // A waiting backfill job looks for new work every 100 ms.
    expect(Date.now() - arrived).toBeLessThan(1000);
    expect(started.filter((job) => job.startsWith('backfill'))).toEqual(['backfill b1']);

    releaseBackfill();
    await waitUntil(async () => (await queue!.getJobCountByTypes('active', 'prioritized', 'wait')) === 0);
    expect(started.filter((job) => job.startsWith('backfill')).sort()).toEqual(['backfill b1', 'backfill b2', 'backfill b3', 'backfill b4', 'backfill b5']);
    // Handed back is not failed, and costs no attempt.
    expect(failed).toEqual([]);
  });
});

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}
