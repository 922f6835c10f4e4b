import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRenditions, type Rendition } from '@renditions/db';
import { RENDITION_SIZES } from '@renditions/imaging';
import type { RunningWorker } from '@renditions/worker';
import { startCdnPurgeServer, type CdnPurgeServer } from '../support/cdn-purge-server';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { fetchBytes, getImage, upload, waitForImage, type UploadResponse } from '../support/http';
import { pretendOlderEncoder } from '../support/old-renditions';
import { runScript } from '../support/run-script';

/**
 * `npm run reprocess` end to end: the command as an operator runs it, a worker in the test process, the CDN's purge
 * endpoint as a real HTTP server. Two assets, one of them uploaded twice; the first one's AVIFs look as if an older
 * encoder setting had made them, so re-rendering them changes their bytes, while the other's come out the same.
 */
describe('npm run reprocess', () => {
  let ctx: TestContext;
  let cdn: CdnPurgeServer;
  let changed: { first: UploadResponse; second: UploadResponse; assetId: string; older: Map<string, Buffer> };
  let unchanged: { image: UploadResponse; assetId: string };
  let before: Map<string, Rendition[]>;
  /** Purge requests from the reprocess on: the first processing asks for some of its own. */
  let purgedSince = 0;

  const reprocess = (...args: string[]) => runScript('scripts/reprocess.ts', args, ctx.env);
  const assetOf = async (imageId: string) =>
    (await ctx.services.db.execute<{ asset_id: string }>(sql`select asset_id from images where id = ${imageId}`))[0]!.asset_id;
  const marked = async () =>
    Number((await ctx.services.db.execute<{ n: number }>(sql`select count(*)::int as n from renditions where reprocess is not null`))[0]!.n);
  const rowsOf = async (assetId: string) =>
    (await listRenditions(ctx.services.db, assetId)).sort((a, b) => `${a.size}.${a.format}`.localeCompare(`${b.size}.${b.format}`));
  const row = (rows: Rendition[], size: string, format: string) => rows.find((r) => r.size === size && r.format === format)!;
  const waitingJobs = async () => {
    const counts = await ctx.services.queues.jobCounts();
    return Object.fromEntries(
      Object.entries(counts).map(([queue, byState]) => [queue, (byState.prioritized ?? 0) + (byState.waiting ?? 0) + (byState.active ?? 0)]),
    );
  };

  beforeAll(async () => {
    cdn = await startCdnPurgeServer();
    ctx = await createTestContext({ worker: false, env: { CDN_PURGE_URL: cdn.url } });
    const worker = ctx.startWorker();
    const photo = readCorpus('photos/DSCN0010.jpg');
    const first = (await (await upload(ctx.url, photo)).json()) as UploadResponse;
    const second = (await (await upload(ctx.url, photo)).json()) as UploadResponse;
    const other = (await (await upload(ctx.url, readCorpus('photos/DSCN0021.jpg'))).json()) as UploadResponse;
    for (const image of [first, second, other]) expect((await waitForImage(ctx.url, image.id)).status).toBe('ready');
    await worker.stop();

    const assetId = await assetOf(first.id);
    changed = { first, second, assetId, older: await pretendOlderEncoder(ctx.services, assetId, 'avif') };
    unchanged = { image: other, assetId: await assetOf(other.id) };
    before = new Map([
      [assetId, await rowsOf(assetId)],
      [unchanged.assetId, await rowsOf(unchanged.assetId)],
    ]);
  });
  afterAll(async () => {
    await ctx?.stop();
    await cdn?.close();
  });

  it('--dry-run counts what it would re-render and changes nothing', async () => {
    const result = await reprocess('--format', 'avif', '--dry-run');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('dry run: would re-render 12 renditions of 2 assets');
    expect(result.stdout).toContain(`avif: 12 (${RENDITION_SIZES.map((size) => `${size} 2`).join(', ')})`);
    expect(result.stdout).toContain('nothing was changed');
    expect(await marked()).toBe(0);
    expect(Object.values(await waitingJobs()).every((n) => n === 0)).toBe(true);
    expect(await rowsOf(changed.assetId)).toEqual(before.get(changed.assetId));
  });

  let worker: RunningWorker | undefined;

  it('marks the AVIFs and queues one render-avif job per asset; the images stay ready and keep serving', async () => {
    purgedSince = cdn.requests.length;
    const result = await reprocess('--format', 'avif');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('marked for re-rendering: 12 renditions of 2 assets');
    expect(result.stdout).toContain('jobs queued at backfill priority: render-avif 2');
    expect(await marked()).toBe(12);
    expect(await waitingJobs()).toMatchObject({ render: 0, 'render-avif': 2 });

    // No worker runs yet: the re-render is pending, and nothing about the image says so.
    const image = await getImage(ctx.url, changed.first.id);
    expect(image.status).toBe('ready');
    expect(image.renditions.every((rendition) => rendition.status === 'ready')).toBe(true);
    const served = await fetchBytes(`${ctx.url}/i/${changed.first.id}/h.avif`);
    expect(served.response.status).toBe(200);
    expect(served.response.headers.get('x-rendition-status')).toBe('ready');
    expect(served.response.headers.get('cache-control')).toContain('immutable');
    expect(served.body.equals(changed.older.get('h.avif')!)).toBe(true);
  });

  it('re-renders them in a worker while the images stay ready throughout', async () => {
    worker = ctx.startWorker();
    const statuses = new Set<string>();
    const deadline = Date.now() + 30_000;
    while ((await marked()) > 0) {
      if (Date.now() > deadline) throw new Error('the re-renders did not finish in time');
      for (const id of [changed.first.id, unchanged.image.id]) {
        const image = await getImage(ctx.url, id);
        statuses.add(image.status);
        for (const rendition of image.renditions) statuses.add(rendition.status);
      }
      await sleep(50);
    }
    expect([...statuses]).toEqual(['ready']);
    expect(await waitingJobs()).toMatchObject({ 'render-avif': 0 });
    await worker.stop();
  });

  it('serves the new AVIF bytes under new keys, removes the replaced objects, and leaves JPEG and WebP alone', async () => {
    const rows = await rowsOf(changed.assetId);
    const old = before.get(changed.assetId)!;
    for (const size of RENDITION_SIZES) {
      const now = row(rows, size, 'avif');
      const then = row(old, size, 'avif');
      expect(now.status).toBe('ready');
      expect(now.reprocess).toBeNull();
      expect(now.etag).not.toBe(then.etag);
      expect(now.storageKey).toMatch(new RegExp(`^assets/${changed.assetId}/${size}\\.[\\w-]{16}\\.avif$`));
      expect(await ctx.services.storage.head(then.storageKey!)).toBeNull();
      for (const image of [changed.first, changed.second]) {
        const served = await fetchBytes(`${ctx.url}/i/${image.id}/${size}.avif`);
        expect(served.response.status).toBe(200);
        expect(served.response.headers.get('etag')).toBe(now.etag);
        expect(served.body.equals(changed.older.get(`${size}.avif`)!)).toBe(false);
        expect(served.body.subarray(4, 12).toString('latin1')).toBe('ftypavif');
      }
      for (const format of ['jpg', 'webp']) expect(row(rows, size, format)).toEqual(row(old, size, format));
    }
    expect((await getImage(ctx.url, changed.first.id)).status).toBe('ready');
  });

  it('keeps what came out the same as it was: same object, nothing to purge', async () => {
    expect(await rowsOf(unchanged.assetId)).toEqual(
      before.get(unchanged.assetId)!.map((rendition) => ({ ...rendition, updatedAt: expect.any(Date) })),
    );
  });

  it("asks the CDN to forget every re-rendered URL of each upload, and no other", async () => {
    const purged = cdn.requests.slice(purgedSince).map((request) => request.replace(/^GET \/purge/, ''));
    for (const image of [changed.first, changed.second]) {
      for (const size of RENDITION_SIZES) {
        expect(purged).toContain(`/i/${image.id}/${size}.avif`);
        // The negotiated URL, at least once per format class (the purge server sees the path only).
        expect(purged.filter((path) => path === `/i/${image.id}/${size}`).length).toBeGreaterThanOrEqual(3);
      }
    }
    expect(purged.filter((path) => /\.(jpg|webp)$/.test(path))).toEqual([]);
    expect(purged.filter((path) => path.includes(unchanged.image.id))).toEqual([]);
  });
});
