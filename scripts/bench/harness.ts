/** What every benchmark that starts its own stack needs: ports, waits, stopping children, cleaning Redis, tables. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { migrateDatabase } from '@renditions/db';
import { freePort } from '../../test/support/ports';

export { freePort };

export async function waitFor(what: string, ready: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** SIGTERM, then SIGKILL if it has not gone within `graceMs` (0: SIGKILL at once). */
export async function stop(child: ChildProcess, graceMs = 0): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
  const timer = graceMs > 0 ? setTimeout(() => child.kill('SIGKILL'), graceMs) : undefined;
  await exited;
  clearTimeout(timer);
}

export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  for (let cursor = '0'; ; ) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
    if (cursor === '0') return;
  }
}

/** Nearest-rank percentile; NaN for no values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** A Markdown table with padded columns, as the benchmarks print them. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

/** Undo steps, run last-in first-out at the end of a run whatever happened. */
/**
 * The same JPEG with a comment segment right after SOI: new bytes (so the API stores and processes it as a new asset
 * rather than joining one it has already), the very same pixels and decode work. The strip stage removes the comment
 * like any other metadata.
 */
export function withComment(jpeg: Buffer, text: string): Buffer {
  const comment = Buffer.from(text, 'latin1');
  const header = Buffer.from([0xff, 0xfe, (comment.length + 2) >> 8, (comment.length + 2) & 0xff]);
  return Buffer.concat([jpeg.subarray(0, 2), header, comment, jpeg.subarray(2)]);
}

export type Cleanups = Array<() => Promise<void>>;

/** Runs the undo steps last-in first-out; a failing step is reported, and the others still run. */
export async function runCleanups(cleanups: Cleanups): Promise<void> {
  while (cleanups.length > 0) await cleanups.pop()!().catch((error) => console.error('cleanup step failed:', error));
}

const POSTGRES_SERVER = 'postgres://postgres@127.0.0.1:5432';
export const BENCH_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROOT = path.resolve(import.meta.dirname, '../..');

export interface BenchBackends {
  databaseName: string;
  databaseUrl: string;
  prefix: string;
  /** A connection to the server's `postgres` database, not the bench's own (so its queries are not counted there). */
  admin: postgres.Sql;
  redis: Redis;
}

/** A migrated database and a queue prefix of the run's own; `cleanups` drops the one and deletes the other's keys. */
export async function throwawayBackends(label: string, cleanups: Cleanups): Promise<BenchBackends> {
  const suffix = randomBytes(6).toString('hex');
  const databaseName = `renditions_${label}_${suffix}`;
  const databaseUrl = `${POSTGRES_SERVER}/${databaseName}`;
  const admin = postgres(`${POSTGRES_SERVER}/postgres`, { max: 1, onnotice: () => undefined });
  cleanups.push(() => admin.end());
  cleanups.push(async () => void (await admin.unsafe(`drop database if exists "${databaseName}" with (force)`)));
  await migrateDatabase(databaseUrl);
  const prefix = `{${label}-${suffix}}`;
  const redis = new Redis(BENCH_REDIS_URL, { maxRetriesPerRequest: 1 });
  cleanups.push(async () => {
    await deleteKeys(redis, `${prefix}:*`);
    redis.disconnect();
  });
  return { databaseName, databaseUrl, prefix, admin, redis };
}

/**
 * The environment a bench's API and worker run with: production defaults, on the run's own backends, local storage
 * in its directory, its port. The rate limit is off (a bench uploads hundreds of images from one address), the
 * webhook secret set as in production (unset, the worker would generate and log one), and the worker's metrics port
 * off (nothing scrapes it, and another worker on this machine may hold the default).
 */
export function benchEnv(backends: BenchBackends, dir: string, port: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: backends.databaseUrl,
    REDIS_URL: BENCH_REDIS_URL,
    QUEUE_PREFIX: backends.prefix,
    STORAGE_DRIVER: 'local',
    STORAGE_DIR: path.join(dir, 'objects'),
    PORT: String(port),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_UPLOADS_PER_MINUTE: '0',
    WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
    WORKER_METRICS_PORT: '0',
  };
}

export interface LaunchOptions {
  args?: string[];
  env: NodeJS.ProcessEnv;
  /** Output goes to <dir>/<name>.log. */
  dir: string;
  cleanups: Cleanups;
  /** Lowered right after the spawn, as scripts/start.ts does for the worker. */
  nice?: number;
  /** 'pipe' to read the child's standard output (stderr still goes to the log). */
  stdout?: 'log' | 'pipe';
}

/** `node --import tsx <entry>` as the npm scripts start it; `cleanups` stops it. */
export function launchEntry(name: string, entry: string, options: LaunchOptions): ChildProcess {
  const log = openSync(path.join(options.dir, `${name}.log`), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry), ...(options.args ?? [])], {
    cwd: ROOT,
    env: options.env,
    stdio: ['ignore', options.stdout === 'pipe' ? 'pipe' : log, log],
  });
  closeSync(log);
  if (options.nice && child.pid) os.setPriority(child.pid, options.nice);
  options.cleanups.push(() => stop(child));
  return child;
}
