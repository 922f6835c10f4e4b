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
 *  - `renditions_test_%` databases that did not exist when the run started;
 *  - Redis keys under `{test-*}` prefixes that did not exist when the run started.
 * Only what appeared during this run is removed, so a run going on beside this one (another checkout, another
 * engineer) keeps its databases and keys. A clean run leaves nothing for it to do: every test cleans up after itself.
 */

const ADMIN_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = 'redis://127.0.0.1:6379';
const DATABASE_PATTERN = 'renditions_test_%';
const KEY_PATTERN = '{test-*';

function admin() {
  return postgres(ADMIN_DATABASE_URL, { max: 1, connect_timeout: 5, onnotice: () => undefined });
}

function redisClient(): Redis {
  return new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 5_000, maxRetriesPerRequest: 1, retryStrategy: () => null });
}

async function testDatabases(): Promise<string[]> {
  const sql = admin();
  try {
    const rows = await sql<{ datname: string }[]>`select datname from pg_database where datname like ${DATABASE_PATTERN}`;
    return rows.map((row) => row.datname);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The `{test-...}` part of a key: the queue prefix it belongs to. */
function keyPrefix(key: string): string {
  const end = key.indexOf('}');
  return end === -1 ? key : key.slice(0, end + 1);
}

async function scanKeys(redis: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', KEY_PATTERN, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

async function testKeyPrefixes(): Promise<Set<string>> {
  const redis = redisClient();
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return new Set((await scanKeys(redis)).map(keyPrefix));
  } finally {
    redis.disconnect();
  }
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

async function dropDatabases(keep: Set<string>): Promise<string[]> {
  const dropped: string[] = [];
  const sql = admin();
  try {
    const rows = await sql<{ datname: string }[]>`select datname from pg_database where datname like ${DATABASE_PATTERN}`;
    for (const { datname } of rows) {
      if (keep.has(datname)) continue;
      await sql.unsafe(`drop database if exists "${datname.replaceAll('"', '""')}" with (force)`);
      dropped.push(datname);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
  return dropped;
}

async function deleteKeys(keep: Set<string>): Promise<number> {
  const redis = redisClient();
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const keys = (await scanKeys(redis)).filter((key) => !keep.has(keyPrefix(key)));
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
  const runId = `${process.pid}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  project.provide('renditionsTestRun', runId);

  // What exists before the run is not this run's to remove. Undefined: the service was unreachable, so the
  // teardown cannot tell this run's leftovers from anyone else's and leaves that service alone.
  const databasesBefore = await testDatabases().then(
    (names) => new Set(names),
    (error: unknown) => (warn('PostgreSQL unreachable at setup, databases will not be cleaned', error), undefined),
  );
  const prefixesBefore = await testKeyPrefixes().catch(
    (error: unknown) => (warn('Redis unreachable at setup, keys will not be cleaned', error), undefined),
  );

  return async function teardown() {
    // Processes first: they hold database connections and would write keys again.
    const killed = await killMarkedProcesses(runId).catch((error: unknown) => (warn('killing processes', error), []));
    const dropped = databasesBefore
      ? await dropDatabases(databasesBefore).catch((error: unknown) => (warn('dropping databases', error), []))
      : [];
    const deleted = prefixesBefore ? await deleteKeys(prefixesBefore).catch((error: unknown) => (warn('deleting Redis keys', error), 0)) : 0;
    if (killed.length + dropped.length + deleted > 0) {
      console.warn(
        `[global-teardown] left behind by the tests, now removed: ${killed.length} process(es)` +
          `${killed.length ? ` (${killed.join(', ')})` : ''}, ${dropped.length} database(s)` +
          `${dropped.length ? ` (${dropped.join(', ')})` : ''}, ${deleted} Redis key(s)`,
      );
    }
  };
}
