import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import {
  ADMIN_AUTH,
  assetIdOf,
  countCalls,
  deleteImage,
  expectGoneAtOnce,
  pollUntil,
  statusOf,
  storedKeysOf,
  uploadOk,
  useFaultyStorage,
  withContext,
  type Defer,
} from '../support/fault-scenarios';
import { upload, waitForImage } from '../support/http';
import { invariantCheckerFor } from '../support/invariants';
import { startS3Server, type S3TestServer } from '../support/s3';

/**
 * Storage misbehaving under the product: failing writes, refused deletes, stalled uploads. The in-process API and
 * worker share `ctx.services`, so swapping its storage for a FaultyStorage puts every storage call of the
 * scenario through the fault.
 */

const invariants = invariantCheckerFor('storage-faults');

const PHOTO = readCorpus('photos/DSCN0010.jpg');
const OTHER_PHOTO = readCorpus('photos/DSCN0021.jpg');
const RENDITION_JPG_WEBP = /^assets\/[^/]+\/[sbtmlh]\.(jpg|webp)$/;
const RENDITION_AVIF = /^assets\/[^/]+\/[sbtmlh]\.avif$/;
const RENDITION_ANY = /^assets\/[^/]+\/[sbtmlh]\.(jpg|webp|avif)$/;
const ORIGINAL = /^assets\/[^/]+\/original$/;

describe('a rendition write that fails', () => {
  let s3: S3TestServer;
  beforeAll(async () => {
    s3 = await startS3Server();
  });
  afterAll(async () => s3?.stop());

  const drivers = {
    local: async () => ({}),
    s3: async (): Promise<Record<string, string>> => ({
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_BUCKET: await s3.createBucket(),
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
    }),
  };

  it.each(Object.keys(drivers) as Array<keyof typeof drivers>)(
    'fails its job, which is retried, and the image still ends ready (%s driver)',
    async (driver) => {
      await withContext({ worker: false, env: await drivers[driver]() }, async (ctx, defer) => {
        const { faulty, restore } = useFaultyStorage(ctx);
        defer(restore);
        // The first two JPEG/WebP writes and the first AVIF one reject while the job's other encodes are still
        // running: each rejection must fail that job (to be retried), never reach the process as unhandled.
        faulty.inject({ method: 'put', key: RENDITION_JPG_WEBP, times: 2, mode: 'fail' });
        faulty.inject({ method: 'put', key: RENDITION_AVIF, times: 1, mode: 'fail' });
        ctx.startWorker();

        const created = await uploadOk(ctx, PHOTO);
        const ready = await waitForImage(ctx.url, created.id, undefined, 45_000);
        expect(ready.status).toBe('ready');
        expect(ready.renditions.filter((r) => r.status === 'ready')).toHaveLength(18);
        // 18 writes that went through plus the 3 refused ones, which their retries wrote again.
        expect(countCalls(faulty, 'put', RENDITION_ANY)).toBeGreaterThanOrEqual(21);

        restore();
        await invariants.expectClean(ctx, `rendition put fails (${driver})`);
      });
    },
  );
});

/** A processed image, then a storage that refuses every delete until the test clears the faults. */
async function readyImageWithDeletesRefused(ctx: TestContext, defer: Defer) {
  const created = await uploadOk(ctx, PHOTO);
  await waitForImage(ctx.url, created.id, undefined, 30_000);
  const assetId = await assetIdOf(ctx, created.id);
  const { faulty, real, restore } = useFaultyStorage(ctx);
  defer(restore);
  faulty.inject({ method: 'delete', mode: 'fail' });
  faulty.inject({ method: 'deletePrefix', mode: 'fail' });
  return { created, assetId, faulty, real, restore };
}

describe('storage refusing deletes', () => {
  it('answers the DELETE 204 at once, 410/404 from then on, and removes the bytes once storage accepts', async () => {
    await withContext({}, async (ctx, defer) => {
      const { created, assetId, faulty, real, restore } = await readyImageWithDeletesRefused(ctx, defer);

      const deleted = await deleteImage(ctx, created);
      expect(deleted.status).toBe(204);
      expect(deleted.ms).toBeLessThan(1000);
      await expectGoneAtOnce(ctx, created);

      // Cleanup keeps trying (and failing) while storage refuses; the bytes are still there meanwhile.
      await pollUntil('two refused cleanup attempts', async () => countCalls(faulty, 'deletePrefix', /./) >= 2, 20_000, 100);
      expect(await storedKeysOf(real, assetId)).not.toEqual([]);
      const [image] = await ctx.services.db.execute<{ cleaned_at: string | null }>(
        sql`select cleaned_at from images where id = ${created.id}`,
      );
      expect(image?.cleaned_at).toBeNull();
      await expectGoneAtOnce(ctx, created);

      restore();
      await invariants.expectClean(ctx, 'storage refuses deletes');
      expect(await storedKeysOf(real, assetId)).toEqual([]);
    });
  });
});

describe('storage stalling upload writes', () => {
  const STALLED_UPLOADS = 12; // more than the database pool (10)
  // Long enough that all twelve uploads (received, hashed and probed first) are waiting on storage together
  // before the first one's deadline passes, even on a loaded two-core machine.
  const DEADLINE_MS = 3000;

  it('answers each upload 503 with Retry-After within the deadline, while reads of other images stay fast', async () => {
    // Every upload gets a turn at once (MAX_CONCURRENT_UPLOADS), so all twelve hold a stalled write together: what
    // is measured is whether stalled writes hold database connections, not the upload queue.
    const env = { STORAGE_TIMEOUT_MS: String(DEADLINE_MS), MAX_CONCURRENT_UPLOADS: String(STALLED_UPLOADS) };
    await withContext({ env }, async (ctx, defer) => {
      const existing = await uploadOk(ctx, PHOTO);
      await waitForImage(ctx.url, existing.id, undefined, 30_000);
      const { faulty, restore } = useFaultyStorage(ctx, { timeoutMs: DEADLINE_MS });
      defer(restore);
      faulty.inject({ method: 'put', key: ORIGINAL, mode: 'stall' });

      let answered = 0;
      const uploads = Array.from({ length: STALLED_UPLOADS }, async () => {
        const started = Date.now();
        const response = await upload(ctx.url, OTHER_PHOTO, { filename: 'photo.jpg', type: 'image/jpeg' });
        const body = await response.text();
        answered += 1;
        return { status: response.status, retryAfter: response.headers.get('retry-after'), ms: Date.now() - started, body };
      });
      // Once every upload is waiting on storage, a stalled write must not be holding a database connection.
      await pollUntil(
        'every upload to wait on storage',
        async () => countCalls(faulty, 'put', ORIGINAL) >= STALLED_UPLOADS,
        DEADLINE_MS - 1000,
        10,
      );
      const reads: Array<{ url: string; ms: number; whileAllStalled: boolean }> = [];
      for (const url of [`${ctx.url}/api/v1/images/${existing.id}`, existing.url, `${ctx.url}/api/v1/images/${existing.id}`]) {
        const started = Date.now();
        expect(await statusOf(url)).toBe(200);
        reads.push({ url, ms: Date.now() - started, whileAllStalled: answered === 0 });
      }
      expect(reads.filter((read) => read.ms >= 1000), JSON.stringify(reads)).toEqual([]);
      expect(reads.filter((read) => read.whileAllStalled).length, JSON.stringify(reads)).toBeGreaterThan(0);

      for (const answer of await Promise.all(uploads)) {
        expect(answer.status, answer.body).toBe(503);
        expect(Number(answer.retryAfter)).toBeGreaterThan(0);
        expect(answer.ms).toBeLessThan(DEADLINE_MS + 3000);
      }
      const [rows] = await ctx.services.db.execute<{ images: number; assets: number }>(
        sql`select (select count(*)::int from images) as images, (select count(*)::int from assets) as assets`,
      );
      expect(rows).toEqual({ images: 1, assets: 1 });

      restore();
      await invariants.expectClean(ctx, 'stalled upload writes');
    });
  });
});

describe('a takedown while storage refuses deletes', () => {
  it('answers 451 everywhere at once, and removes the bytes once storage accepts', async () => {
    await withContext({}, async (ctx, defer) => {
      const { created, assetId, faulty, real, restore } = await readyImageWithDeletesRefused(ctx, defer);

      const verdict = await fetch(`${ctx.url}/api/v1/admin/images/${created.id}/moderation`, {
        method: 'POST',
        headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ verdict: 'reject', reason: 'fault-injection takedown' }),
      });
      expect(verdict.status).toBe(200);
      expect(((await verdict.json()) as { status: string }).status).toBe('rejected');
      const expectTakenDownUrls = async () => {
        expect(await statusOf(created.url)).toBe(451);
        expect(await statusOf(`${ctx.url}/i/${created.id}/m.webp`)).toBe(451);
        expect(await statusOf(`${ctx.url}/i/${created.id}/l.avif`)).toBe(451);
      };
      await expectTakenDownUrls();

      await pollUntil('two refused takedown attempts', async () => countCalls(faulty, 'deletePrefix', /./) >= 2, 20_000, 100);
      const takenDownAt = async () =>
        (await ctx.services.db.execute<{ at: string | null }>(sql`select taken_down_at as at from assets where id = ${assetId}`))[0]?.at;
      expect(await takenDownAt()).toBeNull();
      await expectTakenDownUrls();

      restore();
      await invariants.expectClean(ctx, 'takedown while storage refuses');
      expect(await takenDownAt()).toBeTruthy();
      expect(await storedKeysOf(real, assetId)).toEqual([]);
      await expectTakenDownUrls();
    });
  });
});
