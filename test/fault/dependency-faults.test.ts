import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ImageResource } from '@renditions/pipeline';
import type { TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import {
  assetIdOf,
  pollUntil,
  spawnWorker,
  terminateBackends,
  uploadOk,
  waitForStageProcessing,
  withContext,
} from '../support/fault-scenarios';
import { waitForImage } from '../support/http';
import { invariantCheckerFor } from '../support/invariants';
import { PrivateRedis } from '../support/redis-server';

/**
 * PostgreSQL and Redis going away under running jobs: a blip fails the job it hits (to be retried), never the
 * process, and every image still settles.
 */

const invariants = invariantCheckerFor('dependency-faults');

const PHOTO = readCorpus('photos/nikon-e950.jpg');

describe('PostgreSQL terminating the connections mid-job', () => {
  it('fails the jobs it hits, which are retried; no process dies and the image settles ready', async () => {
    // The worker runs as its own process so that "never a process" is observable: it must still be running.
    await withContext({ worker: false }, async (ctx, defer) => {
      const worker = spawnWorker(ctx, { LOG_LEVEL: 'warn' });
      defer(() => worker.kill());
      const created = await uploadOk(ctx, PHOTO);
      const assetId = await assetIdOf(ctx, created.id);
      await waitForStageProcessing(ctx, assetId, 'render', 30_000);
      // Three blows a little apart, so some land on queries in flight and some on reconnections.
      let terminated = 0;
      for (let blow = 0; blow < 3; blow += 1) {
        terminated += await terminateBackends(ctx.databaseUrl);
        await sleep(150);
      }
      expect(terminated).toBeGreaterThan(0);

      // Reads may answer 503 while the API's own connections come back; the image must settle all the same. A
      // worker that dies meanwhile fails the scenario at once, with what it printed.
      const ready = await waitThroughBlips(ctx, created.id, 45_000, () => {
        const { exitCode, signalCode } = worker.child;
        if (exitCode !== null || signalCode !== null) {
          throw new Error(`the worker died (exit ${exitCode}, signal ${signalCode}); it printed:\n${worker.output()}`);
        }
      });
      const settledAs = () =>
        `${JSON.stringify({ stages: ready.stages, renditions: ready.renditions.map((r) => r.status) })}\nworker output:\n${worker.output()}`;
      expect(ready.status, settledAs()).toBe('ready');
      expect(ready.renditions.filter((r) => r.status === 'ready'), settledAs()).toHaveLength(18);
      const report = await invariants.check(ctx, 'pg_terminate_backend mid-job', { alive: [worker.child] });
      if (report.deadProcesses > 0) report.details.push(`worker output:\n${worker.output()}`);
      report.expectClean();
    });
  });
});

/** Polls the image until it settles, taking 503 answers as a blip rather than a failure; `check` runs each round. */
async function waitThroughBlips(ctx: TestContext, id: string, timeoutMs: number, check: () => void): Promise<ImageResource> {
  let last = 'nothing yet';
  return pollUntil(
    `image ${id} to settle`,
    async () => {
      check();
      const response = await fetch(`${ctx.url}/api/v1/images/${id}`, { signal: AbortSignal.timeout(10_000) });
      const body = await response.text();
      last = `${response.status} ${body.slice(0, 300)}`;
      if (response.status === 503) return undefined;
      if (!response.ok) throw new Error(`GET image ${id}: ${last}`);
      const image = JSON.parse(body) as ImageResource;
      return image.status === 'processing' ? undefined : image;
    },
    timeoutMs,
    200,
  ).catch((error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\nlast answer: ${last}`);
  });
}

describe('Redis restarting mid-processing (it keeps nothing: every queue is lost)', () => {
  it('has the lost flow found again, and the image settles ready', async () => {
    const redis = await PrivateRedis.start();
    try {
      await withContext({ env: { REDIS_URL: redis.url } }, async (ctx) => {
        const created = await uploadOk(ctx, PHOTO);
        const assetId = await assetIdOf(ctx, created.id);
        await waitForStageProcessing(ctx, assetId, 'render', 20_000);
        await redis.kill();
        await sleep(500);
        await redis.resume();

        const ready = await waitForImage(ctx.url, created.id, undefined, 45_000);
        expect(ready.status).toBe('ready');
        expect(ready.renditions.filter((r) => r.status === 'ready')).toHaveLength(18);
        await invariants.expectClean(ctx, 'Redis restart mid-processing');
      });
    } finally {
      // After the context, which removes its keys from this Redis.
      await redis.kill();
    }
  });
});
