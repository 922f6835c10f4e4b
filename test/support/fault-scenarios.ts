import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { expect } from 'vitest';
import type { ObjectStorage } from '@renditions/storage';
import { ADMIN, createTestContext, type TestContext, type TestContextOptions } from './context';
import { FaultyStorage } from './faulty-storage';
import { upload, type UploadResponse } from './http';
import { testChildEnv } from './test-run';
import { freePort } from './ports';

/** Steps the fault-injection scenarios repeat: uploading, deleting, spawning and killing, holding a stage. */

const ROOT = path.resolve(import.meta.dirname, '../..');
export const ADMIN_AUTH = `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`;

/** Polls `probe` until it returns something truthy; fails naming `what` when `timeoutMs` passes. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function uploadOk(ctx: TestContext, bytes: Buffer): Promise<UploadResponse> {
  const response = await upload(ctx.url, bytes, { filename: 'photo.jpg', type: 'image/jpeg' });
  if (response.status !== 201) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as UploadResponse;
}

/** DELETE with the image's token; returns the status and how long the answer took. */
export async function deleteImage(ctx: TestContext, image: UploadResponse): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  const response = await fetch(`${ctx.url}/api/v1/images/${image.id}`, {
    method: 'DELETE',
    headers: { 'X-Delete-Token': image.delete_token },
  });
  await response.arrayBuffer();
  return { status: response.status, ms: Date.now() - started };
}

export async function statusOf(url: string, init?: RequestInit): Promise<number> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  await response.arrayBuffer();
  return response.status;
}

/** From the DELETE on: the id is 410 and its URLs 404, without waiting for any cleanup. */
export async function expectGoneAtOnce(ctx: TestContext, image: UploadResponse): Promise<void> {
  expect(await statusOf(`${ctx.url}/api/v1/images/${image.id}`)).toBe(410);
  expect(await statusOf(image.url)).toBe(404);
  expect(await statusOf(`${ctx.url}/i/${image.id}/m.webp`)).toBe(404);
}

/** The asset generation an image is attached to (not in the public resource). */
export async function assetIdOf(ctx: TestContext, imageId: string): Promise<string> {
  const [row] = await ctx.services.db.execute<{ asset_id: string | null }>(sql`select asset_id from images where id = ${imageId}`);
  if (!row?.asset_id) throw new Error(`image ${imageId} has no asset`);
  return row.asset_id;
}

/** Stages whose progress shows in their renditions' rows rather than only in asset_stages. */
const RENDER_FORMATS: Record<string, string[]> = { render: ['jpg', 'webp'], 'render-avif': ['avif'] };

export type WatchedStage = 'strip' | 'phash' | 'moderation' | 'render' | 'render-avif';
export const WATCHED_STAGES: WatchedStage[] = ['strip', 'phash', 'moderation', 'render', 'render-avif'];

/** Whether the stage is `processing` now: its asset_stages row, or for the render stages one of its renditions. */
export async function isStageProcessing(ctx: TestContext, assetId: string, stage: WatchedStage): Promise<boolean> {
  const formats = RENDER_FORMATS[stage];
  const rows = formats
    ? await ctx.services.db.execute<{ n: number }>(sql`
        select count(*)::int as n from renditions
        where asset_id = ${assetId} and status = 'processing' and format in ${formats}`)
    : await ctx.services.db.execute<{ n: number }>(sql`
        select count(*)::int as n from asset_stages where asset_id = ${assetId} and stage = ${stage} and status = 'processing'`);
  return (rows[0]?.n ?? 0) > 0;
}

export async function stageStatus(ctx: TestContext, assetId: string, stage: string): Promise<string | undefined> {
  const [row] = await ctx.services.db.execute<{ status: string }>(
    sql`select status from asset_stages where asset_id = ${assetId} and stage = ${stage}`,
  );
  return row?.status;
}

export async function waitForStageProcessing(ctx: TestContext, assetId: string, stage: WatchedStage, timeoutMs = 30_000): Promise<void> {
  await pollUntil(`stage ${stage} of asset ${assetId} to be processing`, () => isStageProcessing(ctx, assetId, stage), timeoutMs, 10);
}

/** Keys stored under one asset generation's prefix. */
export async function storedKeysOf(storage: ObjectStorage, assetId: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of storage.list(`assets/${assetId}/`)) keys.push(object.key);
  return keys.sort();
}

// ---------------------------------------------------------------------------------------------------------------
// Faulty storage on the in-process API and worker (they share ctx.services, a plain object).

export interface SwappedStorage {
  faulty: FaultyStorage;
  real: ObjectStorage;
  /** Clears every fault and puts the real driver back. */
  restore(): void;
}

/** Every in-process storage call of the context goes through a FaultyStorage from now on. */
export function useFaultyStorage(ctx: TestContext, options: { timeoutMs?: number } = {}): SwappedStorage {
  const real = ctx.services.storage;
  const faulty = new FaultyStorage(real, { timeoutMs: options.timeoutMs ?? ctx.services.config.storage.timeoutMs });
  ctx.services.storage = faulty;
  return {
    faulty,
    real,
    restore() {
      faulty.clearAll();
      ctx.services.storage = real;
    },
  };
}

export function countCalls(faulty: FaultyStorage, method: string, key: RegExp): number {
  return faulty.calls.filter((call) => call.method === method && key.test(call.key)).length;
}

// ---------------------------------------------------------------------------------------------------------------
// Separate processes, so a scenario can SIGKILL them.

export interface SpawnedProcess {
  child: ChildProcess;
  /** What it wrote to stdout and stderr, for the failure message. */
  output(): string;
  exited: Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

function spawnNode(script: string, env: Record<string, string>): SpawnedProcess {
  // Node itself runs the script (tsx as a loader), so SIGKILL hits the process and not a wrapper.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script)], {
    cwd: ROOT,
    env: { ...process.env, ...env, ...testChildEnv() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The tail of what it printed is enough for a failure message; older output is dropped.
  let printed = '';
  const keep = (chunk: Buffer) => {
    printed = (printed + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => printed.slice(-4000),
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A worker as its own process, on the context's database, Redis prefix and storage. */
export function spawnWorker(ctx: TestContext, env: Record<string, string> = {}): SpawnedProcess {
  return spawnNode('apps/worker/src/main.ts', { ...ctx.env, PUBLIC_BASE_URL: ctx.url, PORT: '3000', WORKER_METRICS_PORT: '0', ...env });
}

/**
 * An API as its own process on a free port (its PUBLIC_BASE_URL unless `env` names another, a CDN's say); resolves
 * once it answers /healthz.
 */
export async function spawnApi(ctx: TestContext, env: Record<string, string> = {}): Promise<SpawnedProcess & { url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const api = spawnNode('apps/api/src/main.ts', { ...ctx.env, PORT: String(port), PUBLIC_BASE_URL: url, ...env });
  try {
    await pollUntil(
      'the spawned API to answer /healthz',
      async () => {
        if (api.child.exitCode !== null) throw new Error(`the API exited at start: ${api.output()}`);
        return statusOf(`${url}/healthz`).then((status) => status === 200).catch(() => false);
      },
      30_000,
      200,
    );
  } catch (error) {
    await api.kill();
    throw error;
  }
  return { ...api, url };
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL from outside the product: locks that hold a stage at its commit, and terminated backends.

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Runs `statements` in a transaction on a connection of our own and keeps it open, so whatever they lock stays
 * locked until `release()` (a rollback).
 */
export async function holdLocks(databaseUrl: string, statements: (tx: postgres.TransactionSql) => Promise<unknown>): Promise<HeldLock> {
  const client = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  let releaseTx!: () => void;
  let locked!: () => void;
  let failed!: (error: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => ((locked = resolve), (failed = reject)));
  const done = client
    .begin(async (tx) => {
      await statements(tx);
      locked();
      await new Promise<void>((resolve) => (releaseTx = resolve));
      // Roll back: the lock was the point, nothing is to be kept.
      throw new RolledBack();
    })
    .catch((error: unknown) => {
      if (!(error instanceof RolledBack)) failed(error);
    });
  await ready;
  let released: Promise<void> | undefined;
  return {
    release() {
      released ??= (async () => {
        releaseTx();
        await done;
        await client.end({ timeout: 5 });
      })();
      return released;
    },
  };
}

class RolledBack extends Error {}

/**
 * Locks an asset's row the way a stage's commit does (`select ... for update`): stages keep running and go
 * `processing`, but each one's commit waits at the lock, so the stage stays `processing` until release.
 */
export function holdAssetRow(ctx: TestContext, assetId: string): Promise<HeldLock> {
  return holdLocks(ctx.databaseUrl, (tx) => tx`select id from assets where id = ${assetId} for update`);
}

/** Terminates every backend of the context's database but our own; returns how many went. */
export async function terminateBackends(databaseUrl: string): Promise<number> {
  const name = new URL(databaseUrl).pathname.slice(1);
  const admin = postgres('postgres://postgres@127.0.0.1:5432/postgres', { max: 1, onnotice: () => undefined });
  try {
    const rows = await admin`
      select pg_terminate_backend(pid) as terminated from pg_stat_activity
      where datname = ${name} and pid <> pg_backend_pid()`;
    return rows.filter((row) => row.terminated).length;
  } finally {
    await admin.end({ timeout: 5 });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A moderation hook that holds its answer, so the moderation stage stays `processing` as long as a test needs.

export interface GatedModerationHook {
  /** MODERATION_WEBHOOK_URL; a loopback address, so the context needs WEBHOOK_ALLOW_PRIVATE=true. */
  url: string;
  /** Requests received so far. */
  received(): number;
  /** Answers every held request `allow`, and every later one at once. */
  open(): void;
  close(): Promise<void>;
}

export async function startGatedModerationHook(): Promise<GatedModerationHook> {
  let opened = false;
  let received = 0;
  let closing: Promise<void> | undefined;
  const held: ServerResponse[] = [];
  const allow = (res: ServerResponse) => {
    if (!res.writableEnded && !res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end('{"verdict":"allow"}');
  };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received += 1;
      if (opened) allow(res);
      else held.push(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/moderate`,
    received: () => received,
    open() {
      opened = true;
      for (const res of held.splice(0)) allow(res);
    },
    close() {
      // Held requests are answered first, so a worker waiting on one is not left hanging until its timeout.
      opened = true;
      for (const res of held.splice(0)) allow(res);
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Contexts.

/** Registers a clean-up step; steps run last-registered first. */
export type Defer = (step: () => unknown) => void;

/**
 * Runs `body` on a context of its own. Whatever the body defers (clearing faults, releasing locks, killing
 * processes, closing hooks) runs first, then the context stops: also when the body fails, so a failed scenario
 * never leaves a stalled call that would hold the worker's shutdown.
 */
export async function withContext<T>(options: TestContextOptions, body: (ctx: TestContext, defer: Defer) => Promise<T>): Promise<T> {
  const ctx = await createTestContext(options);
  const steps: Array<() => unknown> = [];
  try {
    return await body(ctx, (step) => steps.push(step));
  } finally {
    for (const step of steps.reverse()) await Promise.resolve().then(step).catch(() => undefined);
    await ctx.stop();
  }
}
