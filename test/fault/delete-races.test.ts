import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import type { Fault } from '../support/faulty-storage';
import {
  assetIdOf,
  countCalls,
  deleteImage,
  expectGoneAtOnce,
  pollUntil,
  stageStatus,
  startGatedModerationHook,
  storedKeysOf,
  uploadOk,
  useFaultyStorage,
  waitForStageProcessing,
  WATCHED_STAGES,
  withContext,
  type WatchedStage,
} from '../support/fault-scenarios';
import { waitForImage } from '../support/http';
import { invariantCheckerFor } from '../support/invariants';

/**
 * A DELETE landing while a stage is in the middle of its work: the DELETE answers at once, the stage's late
 * result is refused (and what it stored removed), the bytes go, and nothing is served. Then the same bytes
 * uploaded again at once: a fresh generation that settles ready, while the old one is removed.
 */

const invariants = invariantCheckerFor('delete-races');

const PHOTO = readCorpus('photos/DSCN0010.jpg');

async function assetRowExists(ctx: TestContext, assetId: string): Promise<boolean> {
  const rows = await ctx.services.db.execute(sql`select 1 from assets where id = ${assetId}`);
  return rows.length > 0;
}

/**
 * What holds each stage in the middle of its work (in-process worker, so a stalled storage call will do): the
 * write of what it produces, or for the hash its read of the original (strip and render stall on that read
 * too), or for moderation a hook that holds its answer.
 */
const HOLD: Record<WatchedStage, Fault | 'held-hook'> = {
  strip: { method: 'put', key: /^assets\/[^/]+\/stripped\.[a-z]+$/, mode: 'stall' },
  phash: { method: 'getBuffer', key: /^assets\/[^/]+\/original$/, mode: 'stall' },
  moderation: 'held-hook',
  render: { method: 'put', key: /^assets\/[^/]+\/[sbtmlh]\.(jpg|webp)$/, mode: 'stall' },
  'render-avif': { method: 'put', key: /^assets\/[^/]+\/[sbtmlh]\.avif$/, mode: 'stall' },
};

describe('a DELETE racing a stage', () => {
  it.each(WATCHED_STAGES)('while %s runs: 204 at once, the late result refused, every byte gone', async (stage) => {
    const hold = HOLD[stage];
    const hook = hold === 'held-hook' ? await startGatedModerationHook() : undefined;
    const env: Record<string, string> = hook ? { MODERATION_WEBHOOK_URL: hook.url, WEBHOOK_ALLOW_PRIVATE: 'true' } : {};
    try {
      await withContext({ worker: false, env }, async (ctx, defer) => {
        // Before the context stops: a worker waiting on a held answer would hold its shutdown.
        if (hook) defer(() => hook.close());
        const { faulty, real, restore } = useFaultyStorage(ctx, { timeoutMs: 30_000 });
        defer(restore);
        if (hold !== 'held-hook') faulty.inject(hold);
        ctx.startWorker();

        const created = await uploadOk(ctx, PHOTO);
        const assetId = await assetIdOf(ctx, created.id);
        await waitForStageProcessing(ctx, assetId, stage);
        if (hook) await pollUntil('the moderation hook to be asked', async () => hook.received() > 0, 10_000);
        else if (hold !== 'held-hook') {
          await pollUntil(`the ${stage} ${hold.method} to stall`, async () => countCalls(faulty, hold.method, hold.key!) > 0, 10_000);
        }

        const deleted = await deleteImage(ctx, created);
        expect(deleted.status).toBe(204);
        expect(deleted.ms).toBeLessThan(1000);
        await expectGoneAtOnce(ctx, created);
        // The stage is still held (cleanup may already have removed the asset's rows under it): it never completed.
        expect(await stageStatus(ctx, assetId, stage)).not.toBe('ready');

        // Let the stage finish its work now: its result must be refused, whatever it stored removed.
        faulty.clearAll();
        hook?.open();
        await expectGoneAtOnce(ctx, created);

        restore();
        await invariants.expectClean(ctx, `delete racing ${stage}`);
        expect(await storedKeysOf(real, assetId)).toEqual([]);
        expect(await assetRowExists(ctx, assetId)).toBe(false);
      });
    } finally {
      await hook?.close();
    }
  });
});

describe('a delete and an immediate re-upload of the same bytes', () => {
  const RUNS = Array.from({ length: 10 }, (_, index) => index + 1);

  it.each(RUNS)('run %i: the re-upload is a new generation that settles ready with 18 renditions', async (run) => {
    await withContext({}, async (ctx) => {
      const first = await uploadOk(ctx, PHOTO);
      const firstAsset = await assetIdOf(ctx, first.id);
      // Odd runs delete as soon as the flow is queued, even ones once renditions are being rendered.
      if (run % 2 === 0) await waitForStageProcessing(ctx, firstAsset, 'render', 20_000);

      const deleted = await deleteImage(ctx, first);
      expect(deleted.status).toBe(204);
      const second = await uploadOk(ctx, PHOTO);
      const secondAsset = await assetIdOf(ctx, second.id);
      expect(secondAsset).not.toBe(firstAsset);
      await expectGoneAtOnce(ctx, first);

      const ready = await waitForImage(ctx.url, second.id, undefined, 40_000);
      expect(ready.status).toBe('ready');
      expect(ready.renditions.filter((r) => r.status === 'ready')).toHaveLength(18);

      await invariants.expectClean(ctx, `delete + re-upload run ${run}`);
      expect(await storedKeysOf(ctx.services.storage, firstAsset)).toEqual([]);
      expect(await assetRowExists(ctx, firstAsset)).toBe(false);
      expect(await storedKeysOf(ctx.services.storage, secondAsset)).toHaveLength(20); // original, stripped, 18 renditions
    });
  });
});
