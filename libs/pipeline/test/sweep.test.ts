import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assets, findRecordedKeys, renditions, type Database } from '@renditions/db';
import { createLogger } from '@renditions/observability';
import { LocalStorage, S3Storage, type ListedObject, type ObjectStorage } from '@renditions/storage';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../../db/test/throwaway-database';
import { startS3Server, type S3TestServer } from '../../../test/support/s3';
import { scheduleSweeps, sweepStorage, type SweepReport } from '../src/sweep';

const HOUR = 3_600_000;
const OCTETS = { contentType: 'application/octet-stream' };
const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', name: 'sweep-test' });

let database: ThrowawayDatabase;
let db: Database;
let s3Server: S3TestServer;
beforeAll(async () => {
  [database, s3Server] = await Promise.all([createThrowawayDatabase(), startS3Server()]);
  db = database.db;
});
afterAll(async () => {
  await Promise.allSettled([database?.drop(), s3Server?.stop()]);
});

/** An asset row recording `originalKey` (and `strippedKey`), with one rendition per entry of `renditionKeys`. */
async function recordAsset(keys: { original: string; stripped?: string; renditions?: Record<string, string | null> }) {
  const id = randomBytes(8).toString('hex');
  await db.insert(assets).values({
    id,
    sha256: randomBytes(32).toString('hex'),
    format: 'jpeg',
    mime: 'image/jpeg',
    ext: 'jpg',
    width: 640,
    height: 480,
    orientation: 1,
    pages: 1,
    bytes: 1000,
    originalKey: keys.original,
    strippedKey: keys.stripped ?? null,
  });
  for (const [name, storageKey] of Object.entries(keys.renditions ?? {})) {
    const [size = '', format = ''] = name.split('.');
    await db.insert(renditions).values({ assetId: id, size, format, width: 320, height: 240, storageKey });
  }
  return id;
}

async function listKeys(storage: ObjectStorage): Promise<string[]> {
  const keys: string[] = [];
  for await (const { key } of storage.list('')) keys.push(key);
  return keys.sort();
}

interface Harness {
  storage: ObjectStorage;
  cleanup(): Promise<void>;
}

const drivers: Array<[string, () => Promise<Harness>]> = [
  [
    'local',
    async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'sweep-test-'));
      return { storage: new LocalStorage(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  ],
  [
    's3',
    async () => {
      const bucket = await s3Server.createBucket();
      const { endpoint, region, accessKeyId, secretAccessKey } = s3Server;
      const storage = new S3Storage({ endpoint, region, bucket, accessKeyId, secretAccessKey, forcePathStyle: true });
      return { storage, cleanup: () => storage.close() };
    },
  ],
];

describe.each(drivers)('sweepStorage on %s storage', (_driver, openHarness) => {
  let harness: Harness;
  let storage: ObjectStorage;
  beforeEach(async () => {
    harness = await openHarness();
    storage = harness.storage;
  });
  afterEach(async () => harness?.cleanup());

  // Objects written now look two hours old from here.
  const later = () => new Date(Date.now() + 2 * HOUR);

  /** Recorded objects of every kind (original, stripped, rendition, a pre-generation key) and two that no row records. */
  async function storeMixedObjects() {
    const id = randomUUID();
    const legacy = `originals/${randomBytes(32).toString('hex')}`;
    const recorded = [`assets/${id}/original`, `assets/${id}/stripped.jpg`, `assets/${id}/m.webp`, legacy];
    await recordAsset({
      original: recorded[0]!,
      stripped: recorded[1]!,
      // A planned rendition records no key until it is stored: its object, if any, is an orphan.
      renditions: { 'm.webp': recorded[2]!, 'l.webp': null },
    });
    await recordAsset({ original: legacy });
    const orphans = [`assets/${id}/l.webp`, `assets/${randomUUID()}/original`];
    for (const key of [...recorded, ...orphans]) await storage.put(key, Buffer.from(key), OCTETS);
    return { recorded: recorded.sort(), orphans: orphans.sort() };
  }

  it('removes objects no row records once past the grace, and keeps every recorded one', async () => {
    const { recorded, orphans } = await storeMixedObjects();

    const report = await sweepStorage({ db, storage, logger }, { graceMs: HOUR, now: later() });

    expect(report.removed.sort()).toEqual(orphans);
    expect(report).toMatchObject({ scanned: 6, unreferenced: 2, failed: 0, abortedUploads: 0 });
    expect(await listKeys(storage)).toEqual(recorded);
  });

  it('keeps an unreferenced object younger than the grace', async () => {
    const key = `assets/${randomUUID()}/original`;
    await storage.put(key, Buffer.from('just written'), OCTETS);

    const report = await sweepStorage({ db, storage, logger }, { graceMs: HOUR });

    expect(report).toMatchObject({ scanned: 1, unreferenced: 0, removed: [] });
    expect(await listKeys(storage)).toEqual([key]);
  });

  it('removes nothing in a dry run, and reports what a real pass would remove', async () => {
    const { recorded, orphans } = await storeMixedObjects();
    const now = later();

    const dryRun = await sweepStorage({ db, storage, logger }, { graceMs: HOUR, now, dryRun: true });

    expect(dryRun.removed.sort()).toEqual(orphans);
    expect(dryRun.unreferenced).toBe(2);
    expect(await listKeys(storage)).toEqual([...recorded, ...orphans].sort());
    const real = await sweepStorage({ db, storage, logger }, { graceMs: HOUR, now });
    expect(real.removed.sort()).toEqual(dryRun.removed.sort());
  });

  it('counts an object it cannot delete and carries on with the others', async () => {
    const stuck = `assets/${randomUUID()}/original`;
    const other = `assets/${randomUUID()}/original`;
    for (const key of [stuck, other]) await storage.put(key, Buffer.from(key), OCTETS);
    const flaky: ObjectStorage = Object.create(storage, {
      delete: {
        value: async (key: string) => {
          if (key === stuck) throw new Error('storage said no');
          return storage.delete(key);
        },
      },
    });

    const report = await sweepStorage({ db, storage: flaky, logger }, { graceMs: HOUR, now: later() });

    expect(report).toMatchObject({ unreferenced: 2, removed: [other], failed: 1 });
    expect(await listKeys(storage)).toEqual([stuck]);
  });
});

describe('sweepStorage on local storage', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sweep-test-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  async function writeFileAged(key: string, ageMs: number) {
    const file = path.join(dir, key);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, key);
    const at = new Date(Date.now() - ageMs);
    await utimes(file, at, at);
  }

  it('removes the temp file of a write interrupted long ago, not one still being written', async () => {
    const id = randomUUID();
    const abandoned = `assets/${id}/.m.webp.${randomUUID()}.tmp`;
    const inFlight = `assets/${id}/.l.webp.${randomUUID()}.tmp`;
    await writeFileAged(abandoned, 2 * HOUR);
    await writeFileAged(inFlight, 0);
    const storage = new LocalStorage(dir);

    const report = await sweepStorage({ db, storage, logger }, { graceMs: HOUR });

    expect(report.removed).toEqual([abandoned]);
    expect(await listKeys(storage)).toEqual([inFlight]);
  });

  it('removes a spool file a crashed upload left long ago, not one of an upload still arriving', async () => {
    const storage = new LocalStorage(dir);
    const spool = path.relative(dir, storage.spoolDirectory);
    const abandoned = `${spool}/upload-${randomUUID()}`;
    const arriving = `${spool}/upload-${randomUUID()}`;
    await writeFileAged(abandoned, 2 * HOUR);
    await writeFileAged(arriving, 0);

    const report = await sweepStorage({ db, storage, logger }, { graceMs: HOUR });

    expect(report.removed).toEqual([abandoned]);
    expect(await listKeys(storage)).toEqual([arriving]);
  });

  it('keeps the spool folder when it removes the last file in it: an upload may be about to write there', async () => {
    const storage = new LocalStorage(dir);
    await writeFileAged(`${path.relative(dir, storage.spoolDirectory)}/upload-${randomUUID()}`, 2 * HOUR);

    expect((await sweepStorage({ db, storage, logger }, { graceMs: HOUR })).removed).toHaveLength(1);
    expect(await readdir(dir)).toEqual([path.basename(storage.spoolDirectory)]);
  });

  it('works through more objects than one batch, removing exactly the unrecorded ones', async () => {
    const id = randomUUID();
    const keys = Array.from({ length: 1_234 }, (_, n) => `assets/${id}/${n}.webp`);
    for (const key of keys) await writeFileAged(key, 2 * HOUR);
    const recorded = keys.filter((_, n) => n % 100 === 7);
    for (const original of recorded) await recordAsset({ original });

    const report = await sweepStorage({ db, storage: new LocalStorage(dir), logger }, { graceMs: HOUR });

    expect(report.scanned).toBe(keys.length);
    expect(report.removed).toHaveLength(keys.length - recorded.length);
    expect(await listKeys(new LocalStorage(dir))).toEqual(recorded.sort());
  });
});

describe('findRecordedKeys', () => {
  it('finds recorded keys among thousands, in every recording column', async () => {
    const id = randomUUID();
    const original = `assets/${id}/original`;
    const stripped = `assets/${id}/stripped.png`;
    const rendition = `assets/${id}/s.avif`;
    await recordAsset({ original, stripped, renditions: { 's.avif': rendition } });
    const unknown = Array.from({ length: 2_500 }, () => `assets/${randomUUID()}/original`);
    // Spread over several queries' worth of keys, so each lands in a different one.
    const keys = [original, ...unknown.slice(0, 1_200), stripped, ...unknown.slice(1_200), rendition];

    expect(await findRecordedKeys(db, keys)).toEqual(new Set([original, stripped, rendition]));
    expect(await findRecordedKeys(db, [])).toEqual(new Set());
  });
});

describe('scheduleSweeps', () => {
  /** An empty store whose listing takes `listMs`, counting listings in flight at once. */
  function slowEmptyStorage(listMs: number) {
    const state = { listings: 0, inFlight: 0, maxInFlight: 0 };
    const storage = {
      async *list(): AsyncIterable<ListedObject> {
        state.listings += 1;
        state.inFlight += 1;
        state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
        await new Promise((resolve) => setTimeout(resolve, listMs));
        state.inFlight -= 1;
      },
      abortIncompleteUploads: async () => 0,
    } as unknown as ObjectStorage;
    return { storage, state };
  }

  it('runs passes one after another, never overlapping, and stop waits for the one in flight', async () => {
    const { storage, state } = slowEmptyStorage(80);
    const passes: SweepReport[] = [];
    const schedule = scheduleSweeps({ db, storage, logger }, { intervalMs: 10, graceMs: HOUR, onPass: (r) => passes.push(r) });

    await expect.poll(() => passes.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
    await expect.poll(() => state.inFlight, { timeout: 5_000 }).toBe(1);
    await schedule.stop();

    expect(state.inFlight).toBe(0);
    expect(state.maxInFlight).toBe(1);
    const listings = state.listings;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(state.listings).toBe(listings);
  });

  it('waits one interval before the first pass', async () => {
    const { storage, state } = slowEmptyStorage(0);
    const schedule = scheduleSweeps({ db, storage, logger }, { intervalMs: 300, graceMs: HOUR });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(state.listings).toBe(0);
    await expect.poll(() => state.listings, { timeout: 2_000 }).toBe(1);
    await schedule.stop();
  });

  it('reports a failed pass and keeps the schedule going', async () => {
    let listings = 0;
    const storage = {
      async *list(): AsyncIterable<ListedObject> {
        listings += 1;
        throw new Error('listing refused');
      },
    } as unknown as ObjectStorage;
    const errors: unknown[] = [];
    const schedule = scheduleSweeps({ db, storage, logger }, { intervalMs: 10, graceMs: HOUR, onError: (e) => errors.push(e) });

    await expect.poll(() => errors.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
    await schedule.stop();
    expect(listings).toBeGreaterThanOrEqual(2);
    expect(String(errors[0])).toContain('listing refused');
  });
});
