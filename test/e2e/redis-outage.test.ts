import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageJobId } from '@renditions/queue';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { assetIdOf, pollUntil } from '../support/fault-scenarios';
import { getImage, upload, waitForImage, type UploadResponse } from '../support/http';
import { PrivateRedis } from '../support/redis-server';

describe('Redis down during an upload', () => {
  let redis: PrivateRedis;
  let ctx: TestContext;
  beforeAll(async () => {
    redis = await PrivateRedis.start();
    ctx = await createTestContext({ env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await ctx?.stop();
    await redis?.kill();
  });

  it('still accepts the upload, reports Redis unready, and processes it once Redis is back', async () => {
    await redis.kill();
    const started = Date.now();
    const response = await upload(ctx.url, readCorpus('photos/DSCN0021.jpg'));
    expect(response.status).toBe(201);
    expect(Date.now() - started).toBeLessThan(5000);
    const created = (await response.json()) as UploadResponse;
    expect((await getImage(ctx.url, created.id)).status).toBe('processing');

    const readiness = await fetch(`${ctx.url}/readyz`);
    expect(readiness.status).toBe(503);
    expect(readiness.headers.get('retry-after')).toBeTruthy();
    expect(await readiness.json()).toMatchObject({ checks: { database: 'ok', storage: 'ok' } });

    // The original is already served while Redis is away.
    expect((await fetch(created.url)).status).toBe(200);

    await redis.resume();
    const ready = await waitForImage(ctx.url, created.id, undefined, 90_000);
    expect(ready.status).toBe('ready');
    expect(ready.renditions.every((r) => r.status === 'ready')).toBe(true);
  });

  it('recovers a flow that Redis lost when it restarted mid-processing', async () => {
    const response = await upload(ctx.url, readCorpus('photos/jolla.jpg'));
    const created = (await response.json()) as UploadResponse;
    expect((await getImage(ctx.url, created.id)).status).toBe('processing');
    await redis.kill();
    await redis.resume();
    const ready = await waitForImage(ctx.url, created.id, undefined, 90_000);
    expect(ready.status).toBe('ready');
  });
});

describe('Redis losing one job of a flow', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
  });
  afterAll(async () => ctx?.stop());

  it('has the reconciler re-create the lost job, so the image still settles (a failover keeps only replicated writes)', async () => {
    const created = (await (await upload(ctx.url, readCorpus('photos/Kodak_CX7530.jpg'))).json()) as UploadResponse;
    const assetId = await assetIdOf(ctx, created.id);
    // The hash job, which moderation waits for: lost, its parents still wait for it.
    const phash = ctx.services.queues.queues.get('phash')!;
    const jobId = stageJobId('phash', { assetId, run: 1 });
    await pollUntil('the flow to be queued', async () => (await phash.getJobState(jobId)) === 'waiting', 10_000);
    const redis = ctx.services.queues.connection;
    const { queuePrefix } = ctx.services.config;
    await redis.lrem(`${queuePrefix}:phash:wait`, 0, jobId);
    await redis.del(`${queuePrefix}:phash:${jobId}`);
    expect(await phash.getJobState(jobId)).toBe('unknown');

    ctx.startWorker();
    const ready = await waitForImage(ctx.url, created.id, undefined, 30_000);
    expect(ready.status).toBe('ready');
    expect(ready.stages.phash).toBe('ready');
  });
});
