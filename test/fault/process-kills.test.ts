import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import {
  assetIdOf,
  holdAssetRow,
  holdLocks,
  isStageProcessing,
  pollUntil,
  spawnApi,
  spawnWorker,
  startGatedModerationHook,
  uploadOk,
  waitForStageProcessing,
  WATCHED_STAGES,
  withContext,
  type WatchedStage,
} from '../support/fault-scenarios';
import { upload, waitForImage } from '../support/http';
import { invariantCheckerFor } from '../support/invariants';

/**
 * Processes killed without warning (SIGKILL: no shutdown hook runs) at the worst moments: a worker in the middle
 * of each stage, an API between storing an original and committing its row.
 */

const invariants = invariantCheckerFor('process-kills');

const PHOTO = readCorpus('photos/nikon-e950.jpg');

/**
 * How each stage is held at `processing` in a worker that is a separate process (so no FaultyStorage there):
 * - strip, phash, render start at once: a row lock on the asset (taken right after the upload, while the worker
 *   is still booting) lets them run and go `processing` but keeps each one's commit waiting;
 * - moderation runs after the hash: a moderation hook that holds its answer;
 * - render-avif runs after render: its AVIF encodes take long enough to be caught by polling.
 */
type Gate = 'asset-row-lock' | 'held-hook' | 'polling';
const GATES: Record<WatchedStage, Gate> = {
  strip: 'asset-row-lock',
  phash: 'asset-row-lock',
  render: 'asset-row-lock',
  moderation: 'held-hook',
  'render-avif': 'polling',
};

describe('a worker SIGKILLed in the middle of a stage', () => {
  it.each(WATCHED_STAGES)('has its %s job run again by another worker, and the image settles ready', async (stage) => {
    const gate = GATES[stage];
    const hook = gate === 'held-hook' ? await startGatedModerationHook() : undefined;
    const env: Record<string, string> = hook ? { MODERATION_WEBHOOK_URL: hook.url, WEBHOOK_ALLOW_PRIVATE: 'true' } : {};
    try {
      await withContext({ worker: false, env }, async (ctx, defer) => {
        // Deferred steps run before the context stops, last first: the hook answers, the lock goes, the worker dies.
        if (hook) defer(() => hook.close());
        const worker = spawnWorker(ctx);
        defer(() => worker.kill());
        const created = await uploadOk(ctx, PHOTO);
        const assetId = await assetIdOf(ctx, created.id);
        const lock = gate === 'asset-row-lock' ? await holdAssetRow(ctx, assetId) : undefined;
        if (lock) defer(() => lock.release());

        await waitForStageProcessing(ctx, assetId, stage, 40_000).catch((error: unknown) => {
          throw new Error(`${String(error)}\nworker output:\n${worker.output()}`);
        });
        await worker.kill();
        // Nobody else runs jobs yet: what the killed worker was doing is still `processing`.
        expect(await isStageProcessing(ctx, assetId, stage)).toBe(true);
        await lock?.release();
        hook?.open();

        // Its job's lock expires (JOB_LOCK_DURATION_MS 3000), the stalled check hands the job to this worker.
        ctx.startWorker();
        const ready = await waitForImage(ctx.url, created.id, undefined, 40_000);
        expect(ready.status).toBe('ready');
        expect(ready.renditions.filter((r) => r.status === 'ready')).toHaveLength(18);
        await invariants.expectClean(ctx, `worker SIGKILL at ${stage}`);
      });
    } finally {
      await hook?.close();
    }
  });
});

describe('an API SIGKILLed between storing an original and committing its row', () => {
  it('leaves an object no row records, which one sweep removes', async () => {
    await withContext({ worker: false }, async (ctx, defer) => {
      const api = await spawnApi(ctx);
      defer(() => api.kill());
      // The upload stores its original first, then inserts the asset and the image in one transaction: with
      // `images` locked, that transaction waits after the object is written.
      const lock = await holdLocks(ctx.databaseUrl, (tx) => tx`lock table images in access exclusive mode`);
      defer(() => lock.release());
      const answer = upload(api.url, PHOTO, { filename: 'photo.jpg', type: 'image/jpeg' }).then(
        (response) => `answered ${response.status}`,
        (error: unknown) => `no answer: ${String(error)}`,
      );
      const original = await pollUntil(
        'the original to be stored',
        async () => {
          for await (const object of ctx.services.storage.list('assets/')) if (object.key.endsWith('/original')) return object.key;
          return undefined;
        },
        20_000,
      );
      await pollUntil('the upload to wait on the lock', () => countLockWaiters(ctx), 10_000);

      await api.kill();
      expect(await answer).toMatch(/^no answer/);
      await lock.release();

      const [rows] = await ctx.services.db.execute<{ images: number; assets: number }>(
        sql`select (select count(*)::int from images) as images, (select count(*)::int from assets) as assets`,
      );
      expect(rows).toEqual({ images: 0, assets: 0 });
      expect(await ctx.services.storage.head(original)).not.toBeNull();

      const report = await invariants.check(ctx, 'API SIGKILL between write and commit');
      report.expectClean();
      // The original, and the upload's spool file that the killed process never got to remove.
      expect([...report.swept].sort()).toEqual([expect.stringMatching(/^\.spool\/upload-/), original]);
      expect(await ctx.services.storage.head(original)).toBeNull();
    });
  });
});

/** Backends of the context's database waiting for a lock. */
async function countLockWaiters(ctx: TestContext): Promise<number> {
  const name = new URL(ctx.databaseUrl).pathname.slice(1);
  const [row] = await ctx.services.db.execute<{ n: number }>(
    sql`select count(*)::int as n from pg_stat_activity where datname = ${name} and wait_event_type = 'Lock'`,
  );
  return row?.n ?? 0;
}
