import { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '@renditions/api';
import { createLogger } from '@renditions/observability';
import { createServices, QUEUE_NAMES, type ImageResource, type ServicesHandle } from '@renditions/pipeline';
import type { RunningWorker } from '@renditions/worker';
import { ADMIN, createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { pollUntil, spawnApi, spawnWorker, statusOf, type SpawnedProcess } from '../support/fault-scenarios';
import { getImage, waitForImage, type UploadResponse } from '../support/http';
import { invariantCheckerFor } from '../support/invariants';
import { TestRedisCluster } from '../support/redis-cluster';
import { PrivateRedis } from '../support/redis-server';
import { readEventStream } from '../support/sse';

const invariants = invariantCheckerFor('redis-cluster');

function postPhoto(baseUrl: string, bytes: Buffer, headers: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  form.append('image', new Blob([bytes], { type: 'image/jpeg' }), 'photo.jpg');
  return fetch(`${baseUrl}/api/v1/images`, { method: 'POST', body: form, headers });
}

async function uploadOk(baseUrl: string, bytes: Buffer, headers: Record<string, string> = {}): Promise<UploadResponse> {
  const response = await postPhoto(baseUrl, bytes, headers);
  if (response.status !== 201) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as UploadResponse;
}

/** Connections a Redis server has accepted since it started, this question's own included. */
async function connectionsAccepted(url: string): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    return Number(/total_connections_received:(\d+)/.exec(await redis.info('stats'))?.[1]);
  } finally {
    redis.disconnect();
  }
}

function expectAllReady(image: ImageResource): void {
  expect({ id: image.id, status: image.status, renditions: image.renditions.map((r) => r.status) }).toEqual({
    id: image.id,
    status: 'ready',
    renditions: Array<string>(18).fill('ready'),
  });
}

/** Distinct photos (distinct bytes, so each is an asset with a flow of its own) from one small corpus photo. */
async function distinctPhotos(count: number): Promise<Buffer[]> {
  const base = readCorpus('photos/DSCN0021.jpg');
  return Promise.all(Array.from({ length: count }, (_, i) => sharp(base).modulate({ hue: 40 * (i + 1) }).jpeg().toBuffer()));
}

describe('on a Redis Cluster (REDIS_CLUSTER_NODES set, so REDIS_URL is ignored)', () => {
  let cluster: TestRedisCluster;
  /** What REDIS_URL names: a server of its own, so a connection anything makes to it shows in its counters. */
  let ignored: PrivateRedis;
  let connectionsBefore: number;
  let ctx: TestContext;
  let prefix: string;
  let prefixSlot: number;
  let worker: RunningWorker | undefined;

  beforeAll(async () => {
    [cluster, ignored] = await Promise.all([TestRedisCluster.start({ nodeTimeoutMs: 2000 }), PrivateRedis.start()]);
    connectionsBefore = await connectionsAccepted(ignored.url);
    // No worker yet: the live-events test needs an image that stays `processing` until its stream is open.
    ctx = await createTestContext({ worker: false, env: { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_URL: ignored.url } });
    prefix = ctx.services.config.queuePrefix;
    prefixSlot = await cluster.slotOf(prefix);
  });

  afterAll(async () => {
    try {
      await ctx?.stop();
    } finally {
      await Promise.all([cluster?.stop(), ignored?.kill()]);
    }
  });

  it('streams live events through the cluster\'s pub/sub, on a channel in the queue prefix\'s slot', async () => {
    const image = await uploadOk(ctx.url, readCorpus('photos/Canon_40D.jpg'));
    const response = await fetch(`${ctx.url}/api/v1/images/${image.id}/events`, {
      headers: { Accept: 'text/event-stream' },
      signal: AbortSignal.timeout(60_000),
    });
    expect(response.status).toBe(200);
    const channel = `${prefix}:events:${image.id}`;
    expect(await cluster.channels()).toContain(channel);
    expect(await cluster.slotOf(channel)).toBe(prefixSlot);

    const reading = readEventStream(response);
    worker = ctx.startWorker();
    const types = (await reading).map((event) => event.event);
    // Every change published by the worker reached the API's subscriber through the cluster.
    expect(types[0]).toBe('image.updated');
    expect(types.filter((type) => type === 'image.rendition.ready')).toHaveLength(18);
    expect(types.at(-1)).toBe('image.ready');
    expectAllReady(await getImage(ctx.url, image.id));
  });

  it('delivers one image\'s events in the order they were published, as a stream that ends at the settling event needs', async () => {
    const imageId = `order-${Date.now()}`;
    const received: string[] = [];
    const unsubscribe = await ctx.services.events.subscribe(imageId, (event) => received.push(event.timestamp));
    try {
      // Sent back to back, as a commit announces its renditions: a publish that reached another node could overtake.
      const sequence = Array.from({ length: 400 }, (_, i) => String(i));
      await Promise.all(sequence.map((n) => ctx.services.events.publish(imageId, { type: 'image.updated', timestamp: n, data: {} })));
      await pollUntil('every event to arrive', async () => received.length >= sequence.length, 10_000);
      expect(received).toEqual(sequence);
    } finally {
      unsubscribe();
    }
  });

  it('counts uploads in the cluster, one count shared by two API processes', async () => {
    const config = { ...ctx.services.config, edge: { ...ctx.services.config.edge, uploadsPerMinute: 2 } };
    const processes: Array<{ services: ServicesHandle; api?: RunningServer }> = ['one', 'two'].map((name) => ({
      services: createServices(config, createLogger({ level: 'silent', name })),
    }));
    try {
      for (const apiProcess of processes) apiProcess.api = await startServer(apiProcess.services, { port: 0, host: '127.0.0.1' });
      // Until its connection is up, a process counts in memory alone; the shared count starts once both are.
      await pollUntil('both cluster connections', async () => processes.every((p) => p.services.queues.connection.status === 'ready'), 10_000);
      const [one, two] = processes.map((p) => p.api!.url) as [string, string];
      const client = { Authorization: 'Client-ID cluster-test' };
      const photo = readCorpus('photos/Kodak_CX7530.jpg');
      await uploadOk(one, photo, client);
      await uploadOk(two, photo, client);
      const refused = await postPhoto(one, photo, client);
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');

      const counters = (await cluster.keys()).filter(({ key }) => key.startsWith(`${prefix}:rate-limit:`));
      expect(counters.map(({ key }) => key)).toContain(`${prefix}:rate-limit:uploads:client:client-id:cluster-test`);
      expect(counters.filter(({ slot }) => slot !== prefixSlot)).toEqual([]);
    } finally {
      await Promise.all(processes.map((p) => p.api?.stop().catch(() => undefined)));
      await Promise.all(processes.map((p) => p.services.close()));
    }
  });

  it('takes an upload to ready with all 18 renditions served; every key BullMQ and the product wrote is in the prefix\'s slot', async () => {
    const image = await uploadOk(ctx.url, readCorpus('photos/DSCN0010.jpg'));
    const ready = await waitForImage(ctx.url, image.id);
    expectAllReady(ready);
    for (const rendition of ready.renditions) {
      expect(await statusOf(rendition.url), rendition.url).toBe(200);
    }

    const keys = await cluster.keys();
    const queuesWithKeys = new Set(keys.map(({ key }) => key.slice(prefix.length + 1).split(':')[0]));
    expect([...queuesWithKeys]).toEqual(expect.arrayContaining(['strip', 'phash', 'moderation', 'render', 'render-avif', 'settle', 'rate-limit']));
    expect(keys.filter(({ key }) => !key.startsWith(`${prefix}:`))).toEqual([]);
    expect(keys.filter(({ slot }) => slot !== prefixSlot)).toEqual([]);
    expect(new Set(keys.map(({ port }) => port)).size).toBe(1);
  });

  it('serves Bull Board over the cluster: every queue with its counts, and the cluster\'s own Redis stats', async () => {
    const headers = { Authorization: `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}` };
    const queues = await fetch(`${ctx.url}/admin/queues/api/queues`, { headers });
    expect(queues.status).toBe(200);
    const board = (await queues.json()) as { queues: Array<{ name: string; counts: Record<string, number> }> };
    expect(board.queues.map((queue) => queue.name).sort()).toEqual([...QUEUE_NAMES].sort());
    for (const queue of board.queues) expect(queue.counts, queue.name).toMatchObject({ waiting: expect.any(Number), failed: 0 });
    const stats = await fetch(`${ctx.url}/admin/queues/api/redis/stats`, { headers });
    expect(stats.status).toBe(200);
    expect(await stats.json()).toMatchObject({ mode: 'cluster' });
  });

  // Two processes to start and six images to render: on a busy 2-core machine, more than the default 60 s.
  it('rides out the loss of the master holding the queues: every image settles ready, none lost, no process crashed', async () => {
    // From here on, the API and the worker are processes of their own, so a crash shows as a process gone.
    await worker?.stop();
    // Their warnings are printed if the scenario fails (an image whose AVIFs stayed pending, twice in CI).
    const alive: SpawnedProcess[] = [spawnWorker(ctx, { LOG_LEVEL: 'warn' })];
    try {
      const api = await spawnApi(ctx, { LOG_LEVEL: 'warn' });
      alive.push(api);
      const photos = await distinctPhotos(6);
      const during = photos.pop()!;
      const images: UploadResponse[] = [];
      for (const photo of photos) images.push(await uploadOk(api.url, photo));
      // Mid-processing: the first renditions are ready, most of the work is still ahead.
      await pollUntil(
        'the first rendition ready',
        async () => (await getImage(api.url, images[0]!.id)).renditions.some((r) => r.status === 'ready'),
        30_000,
        50,
      );
      const lost = await cluster.masterOf(prefix);
      const unsettled = (await Promise.all(images.map((image) => getImage(api.url, image.id)))).filter((image) => image.status !== 'ready');
      await cluster.kill(lost);
      expect(unsettled.length, 'images still processing when the master died').toBeGreaterThan(0);

      // While the slot has no master: uploads still succeed (the outbox holds their flow), readiness says Redis is out.
      const [uploadedDuring, readiness] = await Promise.all([uploadOk(api.url, during), fetch(`${api.url}/readyz`)]);
      images.push(uploadedDuring);
      expect(readiness.status).toBe(503);
      expect(((await readiness.json()) as { checks: { redis: string } }).checks.redis).not.toBe('ok');

      const promoted = await cluster.waitForFailover(prefix, lost);
      expect(promoted.port).not.toBe(lost.port);
      await pollUntil('/readyz to answer 200 again', async () => (await statusOf(`${api.url}/readyz`)) === 200, 10_000, 200);

      const settled = await Promise.all(images.map((image) => waitForImage(api.url, image.id, undefined, 40_000)));
      for (const image of settled) expectAllReady(image);
      const report = await invariants.check(ctx, 'master failover mid-processing', { alive: alive.map((p) => p.child) });
      report.expectClean();
      expect(report.images).toBeGreaterThanOrEqual(images.length);
    } catch (error) {
      for (const child of alive) console.error(child.output());
      throw error;
    } finally {
      await Promise.all(alive.map((child) => child.kill()));
    }
  }, 75_000);

  it('never connected to REDIS_URL: queues, workers, events, rate limits and readiness all went to the cluster', async () => {
    expect(await connectionsAccepted(ignored.url)).toBe(connectionsBefore + 1);
  });
});
