import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findAsset, listRenditions, markAssetDeleting, type Rendition } from '@renditions/db';
import { createLogger } from '@renditions/observability';
import { reprocessJobId, type ReprocessJobData } from '@renditions/queue';
import type { ObjectStorage } from '@renditions/storage';
import { startCdnPurgeServer, type CdnPurgeServer } from '../../../test/support/cdn-purge-server';
import { createTestContext, type TestContext } from '../../../test/support/context';
import { jobOf, stageNamed as stage } from '../../../test/support/jobs';
import { readCorpus } from '../../../test/support/corpus';
import { upload, waitForImage, type UploadResponse } from '../../../test/support/http';
import { pretendOlderEncoder } from '../../../test/support/old-renditions';
import { storageWith } from '../../../test/support/storage-with';
import { HttpCdnPurger, type CdnPurger } from '../src/cdn-purge';
import { requestReprocess } from '../src/reprocess';
import { runReprocessJob } from '../src/reprocess-job';
import { requeueStaleReprocess } from '../src/reprocess-reconcile';
import { createStageTools, type StageTools } from '../src/stages/tools';

/**
 * A re-render job with its real collaborators (PostgreSQL, local storage, Redis, an HTTP purge endpoint), driven
 * directly: no worker runs, so each test decides what fails, and when.
 */
function jobFor(assetId: string, options: { attemptsMade?: number; attempts?: number } = {}) {
  return jobOf<ReprocessJobData>({ assetId, reprocess: true }, { id: `reprocess-test-${assetId}`, ...options });
}

describe('a re-render job', () => {
  let ctx: TestContext;
  let cdn: CdnPurgeServer;
  let realStorage: ObjectStorage;
  let realCdn: CdnPurger;
  let tools: StageTools;
  beforeAll(async () => {
    cdn = await startCdnPurgeServer();
    ctx = await createTestContext({ worker: false, env: { CDN_PURGE_URL: cdn.url } });
    realStorage = ctx.services.storage;
    realCdn = ctx.services.cdn;
    tools = createStageTools(ctx.services.config);
  });
  afterAll(async () => {
    if (ctx) Object.assign(ctx.services, { storage: realStorage, cdn: realCdn });
    await ctx?.stop();
    await cdn?.close();
  });

  /** A ready image whose renditions of `format` look made by an older encoder, marked for re-rendering. */
  async function markedImage(photo: string, format: 'jpg' | 'webp' | 'avif'): Promise<{ image: UploadResponse; assetId: string; before: Rendition[] }> {
    const worker = ctx.startWorker();
    const image = (await (await upload(ctx.url, readCorpus(photo))).json()) as UploadResponse;
    expect((await waitForImage(ctx.url, image.id)).status).toBe('ready');
    await worker.stop();
    const [row] = await ctx.services.db.execute<{ asset_id: string; created_at: string }>(
      sql`select a.id as asset_id, a.created_at from images i join assets a on a.id = i.asset_id where i.id = ${image.id}`,
    );
    const assetId = row!.asset_id;
    await pretendOlderEncoder(ctx.services, assetId, format);
    // Only this asset: it is the newest one.
    const report = await requestReprocess(ctx.services, { formats: [format], since: new Date(row!.created_at) });
    expect(report.assets).toBe(1);
    return { image, assetId, before: await rowsOf(assetId) };
  }

  const rowsOf = async (assetId: string) =>
    (await listRenditions(ctx.services.db, assetId)).sort((a, b) => `${a.size}.${a.format}`.localeCompare(`${b.size}.${b.format}`));
  const statusOf = async (assetId: string) => (await findAsset(ctx.services.db, assetId))?.status;
  const marks = async (assetId: string) => (await rowsOf(assetId)).map((rendition) => rendition.reprocess).filter(Boolean);

  it('keeps the image ready with its old bytes while it fails, and gives the re-render up after the last attempt', async () => {
    const { assetId, before } = await markedImage('photos/DSCN0029.jpg', 'jpg');
    ctx.services.storage = storageWith(realStorage, {
      put: async () => {
        throw new Error('storage hiccup');
      },
    });
    try {
      await expect(runReprocessJob(ctx.services, tools, stage('render'), jobFor(assetId))).rejects.toThrow('storage hiccup');
      expect(await marks(assetId)).toEqual(Array(6).fill('requested'));
      await expect(runReprocessJob(ctx.services, tools, stage('render'), jobFor(assetId, { attemptsMade: 4 }))).rejects.toThrow('storage hiccup');
    } finally {
      ctx.services.storage = realStorage;
    }
    expect(await marks(assetId)).toEqual([]);
    expect(await statusOf(assetId)).toBe('ready');
    expect((await rowsOf(assetId)).map(({ updatedAt: _, ...rest }) => rest)).toEqual(
      before.map(({ updatedAt: _, reprocess: __, ...rest }) => ({ ...rest, reprocess: null })),
    );
  });

  it('leaves nothing behind when the asset is deleted while it re-renders', async () => {
    const { assetId } = await markedImage('photos/DSCN0040.jpg', 'webp');
    // The delete lands while the first re-rendered WebP is being written.
    ctx.services.storage = storageWith(realStorage, {
      put: async (key, body, options) => {
        await realStorage.put(key, body, options);
        await markAssetDeleting(ctx.services.db, assetId);
      },
    });
    try {
      expect(await runReprocessJob(ctx.services, tools, stage('render'), jobFor(assetId))).toMatchObject({ outcome: 'skipped' });
    } finally {
      ctx.services.storage = realStorage;
    }
    const stored: string[] = [];
    for await (const object of realStorage.list(`assets/${assetId}/`)) stored.push(object.key);
    expect(stored.filter((key) => /\.[\w-]{16}\.webp$/.test(key))).toEqual([]);
  });

  it('serves the new bytes when two runs of one job overlap (a lock that expired), neither removing what the other recorded', async () => {
    const { assetId, before } = await markedImage('photos/nikon-e950.jpg', 'webp');
    const outcomes = await Promise.all([1, 2].map(() => runReprocessJob(ctx.services, tools, stage('render'), jobFor(assetId))));
    expect(outcomes.map((outcome) => outcome.outcome)).toEqual(['done', 'done']);
    for (const rendition of (await rowsOf(assetId)).filter((row) => row.format === 'webp')) {
      const old = before.find((row) => row.size === rendition.size && row.format === 'webp')!;
      expect(rendition.storageKey).not.toBe(old.storageKey);
      expect(rendition.reprocess).toBeNull();
      expect(await realStorage.head(rendition.storageKey!)).toEqual({ size: rendition.bytes });
      expect(await realStorage.head(old.storageKey!)).toBeNull();
    }
  });

  it('finishes on retry what a failed CDN purge left, without rendering again, and the reconciler re-queues a lost job', async () => {
    const { image, assetId, before } = await markedImage('photos/Canon_40D.jpg', 'avif');
    // Nothing listens there: every purge request fails. The replaced objects are removed slowly, so the job's failure
    // is known well before its cleanup ends (it must stay the job's result meanwhile, not an unhandled rejection).
    ctx.services.cdn = new HttpCdnPurger('http://127.0.0.1:1', createLogger({ level: 'silent', name: 'test' }));
    ctx.services.storage = storageWith(realStorage, {
      delete: async (key) => {
        await sleep(200);
        await realStorage.delete(key);
      },
    });
    try {
      await expect(runReprocessJob(ctx.services, tools, stage('render-avif'), jobFor(assetId))).rejects.toThrow(/did not purge/);
    } finally {
      ctx.services.cdn = realCdn;
      ctx.services.storage = realStorage;
    }
    const recorded = await rowsOf(assetId);
    expect(recorded.filter((rendition) => rendition.format === 'avif').map((rendition) => rendition.reprocess)).toEqual(Array(6).fill('purging'));
    expect(await statusOf(assetId)).toBe('ready');
    // The replaced objects went already: nothing records them since the rows moved.
    for (const old of before.filter((rendition) => rendition.format === 'avif')) expect(await realStorage.head(old.storageKey!)).toBeNull();

    // Redis lost the job meanwhile: the reconciler queues it again once the marks are stale, and only then.
    await ctx.services.queues.queues.get('render-avif')!.remove(reprocessJobId('render-avif', assetId));
    expect(await requeueStaleReprocess(ctx.services)).toEqual({ requeued: 0, failed: 0 });
    const later = new Date(Date.now() + ctx.services.config.worker.staleFlowAfterMs + 1000);
    expect(await requeueStaleReprocess(ctx.services, later)).toEqual({ requeued: 1, failed: 0 });

    const purgedBefore = cdn.requests.length;
    expect(await runReprocessJob(ctx.services, tools, stage('render-avif'), jobFor(assetId))).toEqual({
      outcome: 'done',
      detail: '0 of 0 changed, 6 purged from the CDN',
    });
    expect(await marks(assetId)).toEqual([]);
    expect(await rowsOf(assetId)).toEqual(recorded.map((rendition) => ({ ...rendition, reprocess: null, updatedAt: expect.any(Date) })));
    expect(cdn.requests.slice(purgedBefore)).toContain(`GET /purge/i/${image.id}/h.avif`);
  });
});
