import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { afterAll, expect } from 'vitest';
import type { AssetStatus, StepStatus } from '@renditions/db';
import { deriveAssetStatus, sweepStorage } from '@renditions/pipeline';
import type { ObjectStorage } from '@renditions/storage';
import type { TestContext } from './context';

/**
 * The lifecycle guarantees of CONTRACT.md, checked over storage, PostgreSQL and Redis once a scenario is over:
 * every image settles; every object has a row or is gone after one sweep; every row's object exists; nothing
 * deleted or rejected is served; no process died that the scenario did not kill.
 */
export interface InvariantCounts {
  /** Image rows (live and deleted) the check looked at. */
  images: number;
  /** Live images whose asset has not settled (or never will: settled_at null, status processing). */
  stuck: number;
  /** Live, not rejected images with no asset or a missing original; ready renditions or stripped copies whose object is missing. */
  lost: number;
  /** Objects no row records, still there after one sweep pass. */
  orphansAfterSweep: number;
  /** Objects the one sweep pass removed: what crashes and races left behind without a row. */
  sweptByOnePass: number;
  /** Deleted images whose URLs are not 404, rejected ones whose URLs are not 451. */
  servedAfterDelete: number;
  /** Settled assets whose stored status differs from the one derived from their stage and rendition rows. */
  statusMismatch: number;
  /** Objects a finished takedown should have removed (a rejected asset's original). */
  takenDownStillStored: number;
  /** Ready images whose original or a ready rendition does not answer 200. */
  readyNotServed: number;
  /** Processes the scenario did not kill that are gone. */
  deadProcesses: number;
}

export interface InvariantReport extends InvariantCounts {
  /** Whether the system went quiet before the deadline; if not, `unquiet` says what was still pending. */
  quiesced: boolean;
  unquiet: string[];
  /** The keys the sweep removed. */
  swept: string[];
  /** One line per violation, for the failure message. */
  details: string[];
  /** Asserts every count is 0 (the sweep's removals aside), with the details in the message. */
  expectClean(): void;
}

export interface InvariantOptions {
  /** How long to wait for the system to go quiet; 60 s by default. */
  quiesceTimeoutMs?: number;
  /** The storage to sweep and list; the context's by default (the real driver under any FaultyStorage). */
  storage?: ObjectStorage;
  /** Processes the scenario started and did not kill: each must still be running. */
  alive?: ChildProcess[];
  /** Also fetch each ready image's original and one rendition (default true). */
  checkReadyServed?: boolean;
}

const SETTLED: readonly AssetStatus[] = ['ready', 'failed', 'rejected'];

type ImageRow = {
  id: string;
  asset_id: string | null;
  deleted_at: string | null;
  cleaned_at: string | null;
}

type AssetRow = {
  id: string;
  ext: string;
  status: AssetStatus;
  moderation_verdict: 'pending' | 'allow' | 'reject' | 'review';
  original_key: string;
  stripped_key: string | null;
  settled_at: string | null;
  deleting_at: string | null;
  taken_down_at: string | null;
}

type StageRow = {
  asset_id: string;
  stage: string;
  status: StepStatus;
}

type RenditionRow = {
  asset_id: string;
  size: string;
  format: string;
  status: StepStatus;
  storage_key: string | null;
}

interface Snapshot {
  images: ImageRow[];
  assets: Map<string, AssetRow>;
  stages: StageRow[];
  renditions: RenditionRow[];
  /** Every key some row records (original, stripped copy, rendition). */
  recordedKeys: Set<string>;
  storedKeys: Set<string>;
}

/** Waits for the system to go quiet, runs one sweep pass, then measures every invariant. */
export async function checkInvariants(ctx: TestContext, options: InvariantOptions = {}): Promise<InvariantReport> {
  const storage = options.storage ?? ctx.services.storage;
  const unquiet = await waitUntilQuiet(ctx, options.quiesceTimeoutMs ?? 60_000);
  const sweep = await sweepStorage({ db: ctx.services.db, storage, logger: ctx.services.logger }, { graceMs: 0 });
  const snapshot = await takeSnapshot(ctx, storage);
  const details: string[] = [...unquiet.map((reason) => `not quiet after the deadline: ${reason}`)];
  if (sweep.failed > 0) details.push(`sweep: ${sweep.failed} unreferenced objects could not be removed`);

  const counts: InvariantCounts = {
    images: snapshot.images.length,
    stuck: countStuck(snapshot, details),
    lost: countLost(snapshot, details),
    orphansAfterSweep: countOrphans(snapshot, details),
    sweptByOnePass: sweep.removed.length,
    servedAfterDelete: await countServedAfterDelete(ctx, snapshot, details),
    statusMismatch: countStatusMismatch(snapshot, details),
    takenDownStillStored: countTakenDownStillStored(snapshot, details),
    readyNotServed: options.checkReadyServed === false ? 0 : await countReadyNotServed(ctx, snapshot, details),
    deadProcesses: countDeadProcesses(options.alive ?? [], details),
  };
  return {
    ...counts,
    quiesced: unquiet.length === 0,
    unquiet,
    swept: sweep.removed,
    details,
    expectClean() {
      const violations = Object.fromEntries(
        Object.entries(counts).filter(([name, value]) => name !== 'images' && name !== 'sweptByOnePass' && value !== 0),
      );
      expect({ quiesced: unquiet.length === 0, violations, details }, 'invariants over storage, PostgreSQL and Redis').toEqual({
        quiesced: true,
        violations: {},
        details: [],
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Quiescence: the scenario's durable work has finished (or the deadline passed).

/** Polls until nothing is pending; returns what was still pending at the deadline (empty when quiet). */
async function waitUntilQuiet(ctx: TestContext, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = await pendingWork(ctx).catch((error: unknown) => [`could not look: ${String(error)}`]);
    if (pending.length === 0 || Date.now() > deadline) return pending;
    await sleep(250);
  }
}

async function pendingWork(ctx: TestContext): Promise<string[]> {
  const db = ctx.services.db;
  const [row] = await db.execute<{ unsettled: number; uncleaned: number; takedowns: number; deleting: number; outbox: number }>(sql`
    select
      (select count(*)::int from images i join assets a on a.id = i.asset_id
        where i.deleted_at is null and (a.settled_at is null or a.status not in ('ready', 'failed', 'rejected'))) as unsettled,
      (select count(*)::int from images where deleted_at is not null and cleaned_at is null) as uncleaned,
      (select count(*)::int from assets where moderation_verdict = 'reject' and taken_down_at is null) as takedowns,
      (select count(*)::int from assets where deleting_at is not null) as deleting,
      (select count(*)::int from webhook_outbox) as outbox`);
  const pending: string[] = [];
  if (row?.unsettled) pending.push(`${row.unsettled} live images not settled`);
  if (row?.uncleaned) pending.push(`${row.uncleaned} deleted images not cleaned up`);
  if (row?.takedowns) pending.push(`${row.takedowns} rejected assets not taken down`);
  if (row?.deleting) pending.push(`${row.deleting} assets still being deleted`);
  if (row?.outbox) pending.push(`${row.outbox} webhook events in the outbox`);
  const jobs = await pendingJobs(ctx);
  if (jobs.length > 0) pending.push(`jobs pending: ${jobs.join(', ')}`);
  return pending;
}

/** Jobs that still have to run, per queue and state, in the context's prefix (failed and completed ones are done). */
async function pendingJobs(ctx: TestContext): Promise<string[]> {
  const states = ['waiting', 'active', 'delayed', 'waiting-children', 'prioritized', 'paused'] as const;
  const counts = await Promise.race([
    Promise.all(
      [...ctx.services.queues.queues].map(async ([name, queue]) => [name, await queue.getJobCounts(...states)] as const),
    ),
    sleep(5000).then(() => {
      throw new Error('Redis did not answer job counts within 5 s');
    }),
  ]);
  return counts.flatMap(([name, byState]) =>
    Object.entries(byState)
      .filter(([, n]) => n > 0)
      .map(([state, n]) => `${name}.${state}=${n}`),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// One consistent-enough read of the rows and the stored objects (the system is quiet by now).

async function takeSnapshot(ctx: TestContext, storage: ObjectStorage): Promise<Snapshot> {
  const db = ctx.services.db;
  const images = await db.execute<ImageRow>(sql`select id, asset_id, deleted_at, cleaned_at from images order by created_at`);
  const assets = await db.execute<AssetRow>(sql`
    select id, ext, status, moderation_verdict, original_key, stripped_key, settled_at, deleting_at, taken_down_at from assets`);
  const stages = await db.execute<StageRow>(sql`select asset_id, stage, status from asset_stages`);
  const renditions = await db.execute<RenditionRow>(sql`select asset_id, size, format, status, storage_key from renditions`);
  const recordedKeys = new Set<string>();
  for (const asset of assets) {
    recordedKeys.add(asset.original_key);
    if (asset.stripped_key) recordedKeys.add(asset.stripped_key);
  }
  for (const rendition of renditions) if (rendition.storage_key) recordedKeys.add(rendition.storage_key);
  const storedKeys = new Set<string>();
  for await (const object of storage.list('')) storedKeys.add(object.key);
  return {
    images: [...images],
    assets: new Map(assets.map((asset) => [asset.id, asset])),
    stages: [...stages],
    renditions: [...renditions],
    recordedKeys,
    storedKeys,
  };
}

const liveImages = (snapshot: Snapshot) => snapshot.images.filter((image) => image.deleted_at === null);
const isRejected = (asset: AssetRow) => asset.moderation_verdict === 'reject';

// ---------------------------------------------------------------------------------------------------------------
// The checks: each counts one kind of violation and explains each one in `details`.

/** (a) Every live image's asset has settled. */
function countStuck(snapshot: Snapshot, details: string[]): number {
  let stuck = 0;
  for (const image of liveImages(snapshot)) {
    const asset = image.asset_id ? snapshot.assets.get(image.asset_id) : undefined;
    if (!asset) continue; // counted as lost
    if (asset.settled_at === null || !SETTLED.includes(asset.status)) {
      stuck += 1;
      details.push(`stuck: image ${image.id} (asset ${asset.id}) is ${asset.status}, settled_at ${String(asset.settled_at)}`);
    }
  }
  return stuck;
}

/** (b) Every row's object exists: live originals, stripped copies and ready renditions of assets not rejected. */
function countLost(snapshot: Snapshot, details: string[]): number {
  let lost = 0;
  const liveAssetIds = new Set<string>();
  for (const image of liveImages(snapshot)) {
    const asset = image.asset_id ? snapshot.assets.get(image.asset_id) : undefined;
    if (!asset) {
      lost += 1;
      details.push(`lost: live image ${image.id} has no asset (asset_id ${String(image.asset_id)})`);
      continue;
    }
    if (!isRejected(asset)) liveAssetIds.add(asset.id);
  }
  for (const assetId of liveAssetIds) {
    const asset = snapshot.assets.get(assetId)!;
    for (const key of [asset.original_key, asset.stripped_key]) {
      if (key && !snapshot.storedKeys.has(key)) {
        lost += 1;
        details.push(`lost: asset ${assetId} records ${key}, which storage does not hold`);
      }
    }
  }
  for (const rendition of snapshot.renditions) {
    if (!liveAssetIds.has(rendition.asset_id) || rendition.status !== 'ready') continue;
    if (!rendition.storage_key || !snapshot.storedKeys.has(rendition.storage_key)) {
      lost += 1;
      details.push(`lost: ready rendition ${rendition.asset_id} ${rendition.size}.${rendition.format} at ${String(rendition.storage_key)} is not stored`);
    }
  }
  return lost;
}

/** (c) Every stored object has a row, once one sweep pass has run. */
function countOrphans(snapshot: Snapshot, details: string[]): number {
  const orphans = [...snapshot.storedKeys].filter((key) => !snapshot.recordedKeys.has(key));
  for (const key of orphans) details.push(`orphan after one sweep: ${key}`);
  return orphans.length;
}

/** A taken-down asset keeps its row (451, and the same bytes are rejected again) but none of its bytes. */
function countTakenDownStillStored(snapshot: Snapshot, details: string[]): number {
  let stored = 0;
  for (const asset of snapshot.assets.values()) {
    if (!isRejected(asset) || !asset.taken_down_at) continue;
    const prefix = `assets/${asset.id}/`;
    for (const key of snapshot.storedKeys) {
      if (key === asset.original_key || key.startsWith(prefix)) {
        stored += 1;
        details.push(`taken down but stored: ${key} of rejected asset ${asset.id}`);
      }
    }
  }
  return stored;
}

/** (d) Nothing deleted is served (404), nothing rejected is served (451). */
async function countServedAfterDelete(ctx: TestContext, snapshot: Snapshot, details: string[]): Promise<number> {
  let served = 0;
  for (const image of snapshot.images) {
    const asset = image.asset_id ? snapshot.assets.get(image.asset_id) : undefined;
    const expected = image.deleted_at ? 404 : asset && isRejected(asset) ? 451 : undefined;
    if (expected === undefined) continue;
    for (const url of cdnUrls(ctx, image.id, asset?.ext ?? 'jpg')) {
      const status = await statusOf(url);
      if (status !== expected) {
        served += 1;
        details.push(`served: ${url} answers ${status}, expected ${expected} (${image.deleted_at ? 'deleted' : 'rejected'})`);
      }
    }
  }
  return served;
}

/** (e) The stored status of every settled asset is the one its stage and rendition rows give. */
function countStatusMismatch(snapshot: Snapshot, details: string[]): number {
  let mismatches = 0;
  for (const asset of snapshot.assets.values()) {
    if (asset.settled_at === null || asset.deleting_at !== null) continue;
    const stages = snapshot.stages.filter((stage) => stage.asset_id === asset.id);
    const renditions = snapshot.renditions.filter((rendition) => rendition.asset_id === asset.id);
    const derived = deriveAssetStatus({ moderationVerdict: asset.moderation_verdict }, stages, renditions);
    if (derived !== asset.status) {
      mismatches += 1;
      details.push(`status: asset ${asset.id} stores ${asset.status}, its rows give ${derived}`);
    }
  }
  return mismatches;
}

/** (f) Every ready image serves its original and a ready rendition. */
async function countReadyNotServed(ctx: TestContext, snapshot: Snapshot, details: string[]): Promise<number> {
  let notServed = 0;
  for (const image of liveImages(snapshot)) {
    const asset = image.asset_id ? snapshot.assets.get(image.asset_id) : undefined;
    if (!asset || asset.status !== 'ready') continue;
    const ready = snapshot.renditions.find((rendition) => rendition.asset_id === asset.id && rendition.status === 'ready');
    const urls = [`${ctx.url}/i/${image.id}.${asset.ext}`, ...(ready ? [`${ctx.url}/i/${image.id}/${ready.size}.${ready.format}`] : [])];
    for (const url of urls) {
      const status = await statusOf(url);
      if (status !== 200) {
        notServed += 1;
        details.push(`ready but not served: ${url} answers ${status}`);
      }
    }
  }
  return notServed;
}

/** No process the scenario left running has died. */
function countDeadProcesses(processes: ChildProcess[], details: string[]): number {
  const dead = processes.filter((child) => child.exitCode !== null || child.signalCode !== null);
  for (const child of dead) details.push(`process ${child.pid} died: exit ${child.exitCode}, signal ${child.signalCode}`);
  return dead.length;
}

function cdnUrls(ctx: TestContext, imageId: string, ext: string): string[] {
  return [`${ctx.url}/i/${imageId}.${ext}`, `${ctx.url}/i/${imageId}/m.webp`];
}

async function statusOf(url: string): Promise<number> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  await response.arrayBuffer();
  return response.status;
}

// ---------------------------------------------------------------------------------------------------------------
// Per-file totals, so the counts across scenarios can be quoted.

export interface InvariantTally {
  record(scenario: string, report: InvariantReport): void;
  /** One summary line with the summed counts; call from afterAll. */
  print(): void;
}

export function createInvariantTally(file: string): InvariantTally {
  const reports: Array<{ scenario: string; report: InvariantReport }> = [];
  return {
    record(scenario, report) {
      reports.push({ scenario, report });
    },
    print() {
      const sum = (name: keyof InvariantCounts) => reports.reduce((total, { report }) => total + report[name], 0);
      const unquiet = reports.filter(({ report }) => !report.quiesced).length;
      const keys: Array<keyof InvariantCounts> = [
        'images',
        'stuck',
        'lost',
        'orphansAfterSweep',
        'sweptByOnePass',
        'servedAfterDelete',
        'statusMismatch',
        'takenDownStillStored',
        'readyNotServed',
        'deadProcesses',
      ];
      const lines = [`[invariants] ${file}: scenarios=${reports.length} unquiet=${unquiet} ${keys.map((key) => `${key}=${sum(key)}`).join(' ')}`];
      // Which scenario left objects for the sweep, and which broke an invariant: the totals alone do not say.
      for (const { scenario, report } of reports) {
        if (report.sweptByOnePass > 0) lines.push(`  ${scenario}: the sweep removed ${report.swept.join(', ')}`);
        for (const detail of report.details) lines.push(`  ${scenario}: ${detail}`);
      }
      console.log(lines.join('\n'));
    },
  };
}

/**
 * A test file's invariant checks: each scenario's report counted, the sums printed once the file is done.
 * `expectClean` asserts the report has no violation; `check` hands it back for scenario-specific assertions.
 */
export function invariantCheckerFor(file: string) {
  const tally = createInvariantTally(file);
  afterAll(() => tally.print());
  const check = async (ctx: TestContext, scenario: string, options: InvariantOptions = {}): Promise<InvariantReport> => {
    const report = await checkInvariants(ctx, options);
    tally.record(scenario, report);
    return report;
  };
  return {
    check,
    async expectClean(ctx: TestContext, scenario: string): Promise<void> {
      (await check(ctx, scenario)).expectClean();
    },
  };
}
