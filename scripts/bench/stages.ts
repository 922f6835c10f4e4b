/**
 * Per-queue timings read afterwards from BullMQ's event streams (`<prefix>:<queue>:events`), whose entry ids are
 * Redis timestamps in ms. Completed jobs are removed from Redis at once, but their `waiting`, `active` and
 * `completed` events stay in the stream, so this costs the worker nothing while it runs.
 */
import type { Redis } from 'ioredis';
import { QUEUE_NAMES, type QueueName } from '@renditions/pipeline';

export interface StageStats {
  queue: QueueName;
  completed: number;
  failed: number;
  /** Sum of active -> completed over the queue's jobs: the time its jobs held a worker slot. */
  busyMs: number;
  medianRunMs: number;
  maxRunMs: number;
  /** Waiting -> active: time spent queued behind other jobs (for `settle`, after its children finished). */
  medianWaitMs: number;
  /** When the queue's last job completed, as epoch ms. */
  lastCompletedAt: number;
}

interface JobTimes {
  waitingAt?: number;
  activeAt?: number;
  completedAt?: number;
}

export async function readStageStats(redis: Redis, prefix: string, since: number): Promise<StageStats[]> {
  return Promise.all(QUEUE_NAMES.map((queue) => queueStats(redis, prefix, queue, since)));
}

async function queueStats(redis: Redis, prefix: string, queue: QueueName, since: number): Promise<StageStats> {
  const entries = await redis.xrange(`${prefix}:${queue}:events`, String(since), '+');
  const jobs = new Map<string, JobTimes>();
  let failed = 0;
  for (const [id, fields] of entries) {
    const at = Number(id.split('-')[0]);
    const event = fieldOf(fields, 'event');
    const jobId = fieldOf(fields, 'jobId');
    if (!jobId) continue;
    const times = jobs.get(jobId) ?? {};
    jobs.set(jobId, times);
    // A retried job has several attempts; the last one is what made it complete.
    if (event === 'waiting') times.waitingAt = at;
    else if (event === 'active') times.activeAt = at;
    else if (event === 'completed') times.completedAt = at;
    else if (event === 'failed') failed += 1;
  }
  const done = [...jobs.values()].filter((job) => job.activeAt !== undefined && job.completedAt !== undefined);
  const runs = done.map((job) => job.completedAt! - job.activeAt!);
  const waits = done.filter((job) => job.waitingAt !== undefined).map((job) => job.activeAt! - job.waitingAt!);
  return {
    queue,
    completed: done.length,
    failed,
    busyMs: runs.reduce((sum, ms) => sum + ms, 0),
    medianRunMs: median(runs),
    maxRunMs: Math.max(0, ...runs),
    medianWaitMs: median(waits),
    lastCompletedAt: Math.max(0, ...done.map((job) => job.completedAt!)),
  };
}

/** A stream entry's fields come as a flat [name, value, name, value, ...] list. */
function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 0 ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[mid]!;
}
