import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findAsset, listRenditions, listStages, markAssetDeleting, type Asset } from '@renditions/db';
import { UnrecoverableError, type AssetJobData } from '@renditions/queue';
import type { ObjectStorage } from '@renditions/storage';
import { createTestContext, type TestContext } from '../../../test/support/context';
import { jobOf, stageNamed as stage } from '../../../test/support/jobs';
import { readCorpus } from '../../../test/support/corpus';
import { upload, type UploadResponse } from '../../../test/support/http';
import { storageWith } from '../../../test/support/storage-with';
import { runStage } from '../src/stages/runner';
import { createStageTools, type StageTools } from '../src/stages/tools';

/**
 * The one runner with its real collaborators (PostgreSQL, local storage, Redis), stage by stage, driven
 * directly: no worker runs, so each test decides what happens between two steps.
 */
/** The job a BullMQ worker would hand the processor. */
function jobFor(asset: Asset, options: { attemptsMade?: number; attempts?: number; run?: number } = {}) {
  return jobOf<AssetJobData>({ assetId: asset.id, run: options.run ?? asset.flowRun }, { id: `test-${asset.id}`, ...options });
}

describe('the stage runner', () => {
  let ctx: TestContext;
  let realStorage: ObjectStorage;
  let tools: StageTools;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
    realStorage = ctx.services.storage;
    tools = createStageTools(ctx.services.config);
  });
  afterAll(async () => {
    if (ctx) ctx.services.storage = realStorage;
    await ctx?.stop();
  });

  async function uploadedAsset(photo: string, fields?: Record<string, string>): Promise<Asset> {
    const created = (await (await upload(ctx.url, readCorpus(photo), { fields })).json()) as UploadResponse;
    const rows = await ctx.services.db.execute<{ asset_id: string }>(sql`select asset_id from images where id = ${created.id}`);
    return (await findAsset(ctx.services.db, rows[0]!.asset_id))!;
  }

  const stageStatus = async (asset: Asset, name: string) =>
    (await listStages(ctx.services.db, asset.id)).find((row) => row.stage === name)?.status;

  it('runs a stage, records its result and status, then skips it as done', async () => {
    const asset = await uploadedAsset('photos/DSCN0021.jpg');
    expect(await runStage(ctx.services, tools, stage('strip'), jobFor(asset))).toEqual({ outcome: 'done' });
    const stripped = await findAsset(ctx.services.db, asset.id);
    expect(stripped?.strippedKey).toBe(`assets/${asset.id}/stripped.jpg`);
    expect(await ctx.services.storage.head(stripped!.strippedKey!)).not.toBeNull();
    expect(await stageStatus(asset, 'strip')).toBe('ready');
    expect(await runStage(ctx.services, tools, stage('strip'), jobFor(asset))).toEqual({ outcome: 'skipped', detail: 'already done' });
  });

  it('skips an asset being deleted, and a run that a retry superseded', async () => {
    const asset = await uploadedAsset('photos/Canon_40D.jpg');
    expect(await runStage(ctx.services, tools, stage('phash'), jobFor(asset, { run: asset.flowRun + 1 }))).toMatchObject({
      outcome: 'skipped',
      detail: expect.stringContaining('superseded'),
    });
    await markAssetDeleting(ctx.services.db, asset.id);
    expect(await runStage(ctx.services, tools, stage('phash'), jobFor(asset))).toEqual({ outcome: 'skipped', detail: 'asset deleted' });
  });

  it('removes what it stored when the asset was deleted between the write and the record', async () => {
    const asset = await uploadedAsset('photos/DSCN0010.jpg');
    // The delete lands while the stripped copy is being written.
    ctx.services.storage = storageWith(realStorage, {
      put: async (key, body, options) => {
        await realStorage.put(key, body, options);
        await markAssetDeleting(ctx.services.db, asset.id);
      },
    });
    try {
      expect(await runStage(ctx.services, tools, stage('strip'), jobFor(asset))).toMatchObject({ outcome: 'skipped' });
    } finally {
      ctx.services.storage = realStorage;
    }
    expect(await realStorage.head(`assets/${asset.id}/stripped.jpg`)).toBeNull();
    expect((await findAsset(ctx.services.db, asset.id))?.strippedKey).toBeNull();
  });

  it('fails content that can never succeed at once, without retries, and says why', async () => {
    const asset = await uploadedAsset('photos/DSCN0029.jpg');
    await realStorage.put(asset.originalKey, Buffer.from('not an image any more'), { contentType: 'image/jpeg' });
    const failure = await runStage(ctx.services, tools, stage('render'), jobFor(asset)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UnrecoverableError);
    const renditions = await listRenditions(ctx.services.db, asset.id);
    expect(renditions.filter((r) => r.format !== 'avif').every((r) => r.status === 'failed')).toBe(true);
    expect(renditions.filter((r) => r.format === 'avif').every((r) => r.status === 'pending')).toBe(true);
    const row = (await listStages(ctx.services.db, asset.id)).find((candidate) => candidate.stage === 'render');
    expect(row).toMatchObject({ status: 'failed', error: expect.any(String) });
  });

  it('leaves a transient failure to the retry, and records it as final on the last attempt', async () => {
    const asset = await uploadedAsset('photos/DSCN0040.jpg');
    ctx.services.storage = storageWith(realStorage, {
      getBuffer: async () => {
        throw new Error('storage hiccup');
      },
    });
    try {
      await expect(runStage(ctx.services, tools, stage('phash'), jobFor(asset))).rejects.toThrow('storage hiccup');
      expect(await stageStatus(asset, 'phash')).toBe('processing');
      await expect(runStage(ctx.services, tools, stage('phash'), jobFor(asset, { attemptsMade: 4, attempts: 5 }))).rejects.toThrow(
        'storage hiccup',
      );
      expect(await stageStatus(asset, 'phash')).toBe('failed');
    } finally {
      ctx.services.storage = realStorage;
    }
  });

  it('lets moderation hash the image itself when the hash stage failed for good, recording hash and stage together', async () => {
    const asset = await uploadedAsset('photos/Kodak_CX7530.jpg');
    await failForGood(asset, 'phash', { getBuffer: storageHiccup });
    expect(await stageStatus(asset, 'phash')).toBe('failed');
    expect((await findAsset(ctx.services.db, asset.id))?.phash).toBeNull();

    expect(await runStage(ctx.services, tools, stage('moderation'), jobFor(asset))).toEqual({ outcome: 'done', detail: 'allow' });
    expect((await findAsset(ctx.services.db, asset.id))?.phash).not.toBeNull();
    expect(await stageStatus(asset, 'phash')).toBe('ready');
    expect(await stageStatus(asset, 'moderation')).toBe('ready');
  });

  it('keeps the stored status equal to the derived one when failed work succeeds after the image settled', async () => {
    const asset = await uploadedAsset('photos/jolla.jpg');
    for (const name of ['strip', 'phash', 'moderation']) await runStage(ctx.services, tools, stage(name), jobFor(asset));
    // The JPEG/WebP renditions fail for good, the AVIFs are made, the image settles failed.
    // (Its source is already decoded in this process: only the writes fail.)
    await failForGood(asset, 'render', { put: storageHiccup });
    await runStage(ctx.services, tools, stage('render-avif'), jobFor(asset));
    await runStage(ctx.services, tools, stage('settle'), jobFor(asset));
    expect((await findAsset(ctx.services.db, asset.id))?.status).toBe('failed');
    // An admin retries the failed render job by hand (Bull Board): it succeeds, and the image is ready.
    await runStage(ctx.services, tools, stage('render'), jobFor(asset));
    expect((await findAsset(ctx.services.db, asset.id))?.status).toBe('ready');
  });

  const storageHiccup = async (): Promise<never> => {
    throw new Error('storage hiccup');
  };

  /** A stage's last attempt, with the storage calls in `faults` failing: the stage fails for good. */
  async function failForGood(asset: Asset, name: string, faults: Partial<ObjectStorage>): Promise<void> {
    ctx.services.storage = storageWith(realStorage, faults);
    try {
      await expect(runStage(ctx.services, tools, stage(name), jobFor(asset, { attemptsMade: 4, attempts: 5 }))).rejects.toThrow(
        'storage hiccup',
      );
    } finally {
      ctx.services.storage = realStorage;
    }
  }
});
