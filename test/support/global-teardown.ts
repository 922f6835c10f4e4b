import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { TEST_RUN_MARKER } from './test-run';

/**
 * Vitest global setup and teardown. The teardown runs once every test file is done, whether tests passed or not,
 * and removes what this run left behind:
 *  - processes the tests started (marked with testChildEnv()), and their descendants, which inherit the marker;
 *  - databases and Redis keys named with this run's tag (see testRunTag: `renditions_test_<tag>_*`,
 *    `{test-<tag>-*}`), so a run going on beside this one (another checkout, another engineer) keeps its own.
 * A clean run leaves nothing for it to do: every test cleans up after itself.
 */

const ADMIN_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = 'redis://127.0.0.1:6379';

function admin() {
  return postgres(ADMIN_DATABASE_URL, { max: 1, connect_timeout: 5, onnotice: () => undefined });
}

function redisClient(): Redis {
  return new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 5_000, maxRetriesPerRequest: 1, retryStrategy: () => null });
}

async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Pids of the processes whose environment holds `RENDITIONS_TEST_RUN=<runId>` (this process excluded). */
export function markedProcesses(runId: string): number[] {
  const marker = `${TEST_RUN_MARKER}=${runId}`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker)) pids.push(pid);
    } catch {
      // Gone already, or not ours to read.
    }
  }
  return pids;
}

/** SIGKILLs every marked process, again while some are left (a supervisor may have restarted a child meanwhile). */
async function killMarkedProcesses(runId: string): Promise<number[]> {
  const killed = new Set<number>();
  for (let round = 0; round < 10; round += 1) {
    const pids = markedProcesses(runId);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // Exited on its own in the meantime.
      }
    }
    await sleep(200);
  }
  return [...killed];
}

async function dropDatabases(tag: string): Promise<string[]> {
  const dropped: string[] = [];
  const sql = admin();
  try {
    // `_` is a LIKE wildcard: the tag's own underscores are escaped.
    const rows = await sql<{ datname: string }[]>`select datname from pg_database where datname like ${`renditions\\_test\\_${tag}\\_%`}`;
    for (const { datname } of rows) {
      await sql.unsafe(`drop database if exists "${datname.replaceAll('"', '""')}" with (force)`);
      dropped.push(datname);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
  return dropped;
}

async function deleteKeys(tag: string): Promise<number> {
  const redis = redisClient();
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const keys = await scanKeys(redis, `{test-${tag}-*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    return keys.length;
  } finally {
    redis.disconnect();
  }
}

function warn(what: string, error: unknown): void {
  console.warn(`[global-teardown] ${what}: ${error instanceof Error ? error.message : String(error)}`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const tag = randomBytes(4).toString('hex');
  const runId = `${process.pid}-${Date.now().toString(36)}-${tag}`;
  project.provide('renditionsTestRun', runId);

  return async function teardown() {
    // Processes first: they hold database connections and would write keys again.
    const killed = await killMarkedProcesses(runId).catch((error: unknown) => (warn('killing processes', error), []));
    const dropped = await dropDatabases(tag).catch((error: unknown) => (warn('dropping databases', error), []));
    const deleted = await deleteKeys(tag).catch((error: unknown) => (warn('deleting Redis keys', error), 0));
    if (killed.length + dropped.length + deleted > 0) {
      console.warn(
        `[global-teardown] left behind by the tests, now removed: ${killed.length} process(es)` +
          `${killed.length ? ` (${killed.join(', ')})` : ''}, ${dropped.length} database(s)` +
          `${dropped.length ? ` (${dropped.join(', ')})` : ''}, ${deleted} Redis key(s)`,
      );
    }
  };
}
