import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { expect } from 'vitest';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { loadConfig } from '@renditions/config';
import { migrateDatabase } from '@renditions/db';
import { createLogger } from '@renditions/observability';
import { createServices, QUEUE_NAMES, type ServicesHandle } from '@renditions/pipeline';
import { QueueClient } from '@renditions/queue';
import type { JobType } from 'bullmq';
import { startServer, type RunningServer } from '@renditions/api';
import { startWorker, type RunningWorker, type WorkerOptions } from '@renditions/worker';
import { throwawayDatabaseName, throwawayQueuePrefix } from './test-run';
import { checkAnswersAgainstOpenApi } from './openapi-check';

export const ADMIN = { user: 'admin', password: 'test-admin-password' };

export interface TestContext {
  services: ServicesHandle;
  api: RunningServer;
  /** Base URL of the API, also its PUBLIC_BASE_URL. */
  url: string;
  databaseUrl: string;
  storageDir?: string;
  /** The environment the context runs with, for starting a worker as a separate process. */
  env: Record<string, string>;
  /** Another in-process worker, stopped with the context; `options.metrics` to observe its jobs. */
  startWorker(options?: WorkerOptions): RunningWorker;
  stop(): Promise<void>;
}

export interface TestContextOptions {
  env?: Record<string, string>;
  /**
   * The throwaway database's name, for a test that connects the product another way (its env's DATABASE_URL through
   * a pooler): the context still creates, migrates and drops it directly on PostgreSQL. Default: a fresh name.
   */
  databaseName?: string;
  /** Start a worker in-process right away (default true). */
  worker?: boolean;
}

const ADMIN_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Everything a test needs on the real services, owned by that test alone: its own database (migrated with the
 * real migrations), its own queue prefix in Redis and its own storage directory or bucket.
 */
export async function createTestContext(options: TestContextOptions = {}): Promise<TestContext> {
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/${options.databaseName ?? throwawayDatabaseName()}`;
  const storageDir = options.env?.STORAGE_DRIVER === 's3' ? undefined : await mkdtemp(path.join(os.tmpdir(), 'objects-'));
  await migrateDatabase(databaseUrl);
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: throwawayQueuePrefix(),
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    RECONCILE_INTERVAL_MS: '300',
    STALE_FLOW_AFTER_MS: '1500',
    WORKER_CONCURRENCY: '2',
    JOB_LOCK_DURATION_MS: '3000',
    ADMIN_USER: ADMIN.user,
    ADMIN_PASSWORD: ADMIN.password,
    // Tests upload in bulk from one address; the rate-limit tests turn it on.
    RATE_LIMIT_UPLOADS_PER_MINUTE: '0',
    ...(storageDir ? { STORAGE_DIR: storageDir } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel, name: 'test' });
  const services = createServices(config, logger);
  const api = await startServer(services, { port: 0, host: '127.0.0.1' });
  // The port is known only now; every URL the API hands out must point at it.
  services.config.publicBaseUrl = api.url;
  // Every answer the tests get from this API must match its OpenAPI document (the contract says so).
  const openApiMismatches = await checkAnswersAgainstOpenApi(api.url);

  const workers: RunningWorker[] = [];
  const launchWorker = (workerOptions?: WorkerOptions) => {
    const worker = startWorker(services, workerOptions);
    workers.push(worker);
    return worker;
  };
  if (options.worker !== false) launchWorker();

  return {
    services,
    api,
    url: api.url,
    databaseUrl,
    storageDir,
    env,
    startWorker: launchWorker,
    async stop() {
      await Promise.allSettled(workers.map((worker) => worker.stop()));
      await api.stop().catch(() => undefined);
      await services.close();
      await dropQueueKeys(config.redisUrl, config.queuePrefix);
      await dropDatabase(databaseUrl);
      if (storageDir) await rm(storageDir, { recursive: true, force: true });
      // Also those a test swallowed (a fetch() it expected to fail) fail the file.
      const mismatches = openApiMismatches();
      if (mismatches.length > 0) throw new Error(`Answers that do not match the OpenAPI document:\n${mismatches.join('\n')}`);
    },
  };
}

export async function dropQueueKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  } catch {
    // A test that stopped Redis on purpose leaves nothing here to clean.
  } finally {
    redis.disconnect();
  }
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  const sql = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => undefined });
  try {
    await sql.unsafe(`drop database if exists "${name}" with (force)`);
  } finally {
    await sql.end();
  }
}

/** A rejected upload leaves nothing behind: no stored object, no row, no job. */
export async function expectNothingLeftBehind(ctx: TestContext): Promise<void> {
  const files = (await readdir(ctx.storageDir!, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  expect(files).toEqual([]);
  const rows = await ctx.services.db.execute<{ n: number }>(
    'select (select count(*) from images) + (select count(*) from assets) + (select count(*) from renditions) as n' as never,
  );
  expect(Number(rows[0]?.n)).toBe(0);
  expect(await countQueueJobs(ctx.services.config.redisUrl, ctx.services.config.queuePrefix)).toBe(0);
}

/** Jobs in any state across every queue of a prefix: what an upload left in Redis. */
export async function countQueueJobs(redisUrl: string, prefix: string): Promise<number> {
  return countJobsIn(redisUrl, prefix, []);
}

/** Jobs still to run or running (delivered webhooks stay as completed for a while, on purpose). */
export async function countUnfinishedJobs(redisUrl: string, prefix: string): Promise<number> {
  return countJobsIn(redisUrl, prefix, ['waiting', 'active', 'delayed', 'waiting-children', 'prioritized', 'paused']);
}

async function countJobsIn(redisUrl: string, prefix: string, states: JobType[]): Promise<number> {
  const client = new QueueClient({ redisUrl, prefix, queueNames: QUEUE_NAMES });
  try {
    const counts = await Promise.all([...client.queues.values()].map((queue) => queue.getJobCounts(...states)));
    return counts.flatMap((byState) => Object.values(byState)).reduce((sum, n) => sum + n, 0);
  } finally {
    await client.close();
  }
}
