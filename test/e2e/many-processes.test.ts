import { sql } from 'drizzle-orm';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RENDITION_FORMATS, RENDITION_SIZES } from '@renditions/imaging';
import { QUEUE_NAMES, STAGE_NAMES, type ImageResource } from '@renditions/pipeline';
import { createTestContext, type TestContext } from '../support/context';
import { distinctSmallPhotos } from '../support/distinct-photos';
import { pollUntil, spawnApi, spawnWorker, statusOf, type SpawnedProcess } from '../support/fault-scenarios';
import { fetchBytes, getImage, type UploadResponse } from '../support/http';
import { mapConcurrently } from '../support/map-concurrently';
import { nginxInstalled, startNginxCdn, type NginxCdn } from '../support/nginx-cdn';
import { watchObjectWrites, type ObjectWrites } from '../support/object-writes';
import { freePort } from '../support/ports';
import { TestRedisCluster } from '../support/redis-cluster';
import { startS3Server, type S3TestServer } from '../support/s3';
import { readEventStream, type ServerSentEvent } from '../support/sse';
import { workerJobs, type WorkerJobs } from '../support/worker-metrics';

const UPLOADS = 200;
/** Small, so the rate-limit test reaches it in a few uploads. */
const RATE_LIMIT = 3;
/** Four per API: MAX_CONCURRENT_UPLOADS on 2 cores, so none waits long for its turn. */
const UPLOADS_IN_FLIGHT = 8;
/** The longest any one wait may take (a stream, the fleet settling); each test is bounded by it, or by less. */
const WAIT_MS = 150_000;
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The job lock at the product's default, where the test context shortens it to provoke recovery quickly: on a busy
 * machine a 3 s lock runs some jobs twice by design, which would measure that setting rather than the fleet. The
 * reconciler keeps the context's short timings (every 300 ms, flows older than 1.5 s): it looks at nearly every flow
 * while it is processed, so one that takes a flow that has just settled for a lost one shows as a stage run twice.
 */
const FLEET_SETTINGS = {
  JOB_LOCK_DURATION_MS: '30000',
  // What each process prints (warnings and worse) shows when a test fails.
  LOG_LEVEL: 'warn',
};

const AVIF_QUEUE = 'render-avif';
/** Every queue but AVIF's: the two general workers leave it to the AVIF-only one. */
const GENERAL_QUEUES = QUEUE_NAMES.filter((queue) => queue !== AVIF_QUEUE).join(',');

interface SpawnedWorker {
  name: string;
  process: SpawnedProcess;
  metricsUrl: string;
}

interface Upload {
  image: UploadResponse;
  /** Index of the API that took it. */
  api: 0 | 1;
}

interface EventBody {
  type: string;
  data: ImageResource;
}

function postPhoto(apiUrl: string, photo: Buffer, headers: Record<string, string>): Promise<Response> {
  const form = new FormData();
  form.append('image', new Blob([photo], { type: 'image/jpeg' }), 'photo.jpg');
  return fetch(`${apiUrl}/api/v1/images`, { method: 'POST', body: form, headers, signal: AbortSignal.timeout(30_000) });
}

/** Uploads spread evenly: even indexes to the first API, odd ones to the second. */
const apiFor = (index: number): 0 | 1 => (index % 2 === 0 ? 0 : 1);
const otherApi = (api: 0 | 1): 0 | 1 => (api === 0 ? 1 : 0);
/** A client address of its own per bulk upload (TRUST_PROXY reads it), so only the rate-limit test meets the limit. */
const clientAddress = (index: number) => `198.18.${Math.floor(index / 256)}.${index % 256}`;

function sumPerQueue(jobs: WorkerJobs[], kind: keyof WorkerJobs): Record<string, number> {
  const total: Record<string, number> = {};
  for (const counts of jobs) for (const [queue, n] of Object.entries(counts[kind])) total[queue] = (total[queue] ?? 0) + n;
  return total;
}

describe.skipIf(!nginxInstalled)('many processes at once: 2 APIs and 3 workers (one AVIF-only) on a Redis Cluster, S3 and nginx', () => {
  let cluster: TestRedisCluster | undefined;
  let s3: S3TestServer | undefined;
  let ctx: TestContext | undefined;
  let cdn: NginxCdn | undefined;
  let objectWrites: ObjectWrites | undefined;
  const apis: Array<SpawnedProcess & { url: string }> = [];
  const workers: SpawnedWorker[] = [];
  let photos: Buffer[] = [];
  const uploads: Upload[] = [];
  /** The live streams of the rate-limit test's uploads, each read through the API that did not take it. */
  let streams: Array<{ upload: Upload; events: Promise<ServerSentEvent[]> }> = [];

  const processes = () => [...apis, ...workers.map((worker) => worker.process)];
  const apiUrl = (api: 0 | 1) => apis[api]!.url;

  /** Fails at once, with what it printed, when a process of the fleet has exited. */
  function expectAllRunning(): void {
    const fleet = [...apis.map((api, i) => ({ name: `api ${i}`, process: api })), ...workers];
    for (const { name, process } of fleet) {
      const { exitCode, signalCode } = process.child;
      if (exitCode !== null || signalCode !== null) throw new Error(`${name} exited (${exitCode ?? signalCode}):\n${process.output()}`);
    }
    if (cdn && !cdn.running()) throw new Error('nginx exited');
  }

  function startWorker(name: string, queues: string, port: number): SpawnedWorker {
    const process = spawnWorker(ctx!, {
      PUBLIC_BASE_URL: cdn!.url,
      WORKER_QUEUES: queues,
      WORKER_METRICS_PORT: String(port),
    });
    const worker = { name, process, metricsUrl: `http://127.0.0.1:${port}/metrics` };
    workers.push(worker);
    return worker;
  }

  beforeAll(async () => {
    await Promise.all([
      TestRedisCluster.start().then((started) => (cluster = started)),
      startS3Server().then((started) => (s3 = started)),
      distinctSmallPhotos(UPLOADS).then((made) => (photos = made)),
    ]);
    const bucket = await s3!.createBucket();
    objectWrites = watchObjectWrites(s3!, bucket);
    // Chosen now: the APIs and workers need the CDN's URL before nginx can be given theirs.
    const cdnPort = await freePort();
    const cdnUrl = `http://127.0.0.1:${cdnPort}`;
    // The database, the queue prefix and their removal. Its own in-process API takes no request: the two under test
    // are processes of their own.
    ctx = await createTestContext({
      worker: false,
      env: {
        REDIS_CLUSTER_NODES: cluster!.seeds,
        STORAGE_DRIVER: 's3',
        S3_ENDPOINT: s3!.endpoint,
        S3_REGION: s3!.region,
        S3_BUCKET: bucket,
        S3_ACCESS_KEY_ID: s3!.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3!.secretAccessKey,
        S3_FORCE_PATH_STYLE: 'true',
        CDN_PURGE_URL: cdnUrl,
        ...FLEET_SETTINGS,
      },
    });
    const apiEnv = { PUBLIC_BASE_URL: cdnUrl, RATE_LIMIT_UPLOADS_PER_MINUTE: String(RATE_LIMIT), TRUST_PROXY: 'loopback' };
    await Promise.all([0, 1].map(async (i) => (apis[i] = await spawnApi(ctx!, apiEnv))));
    // Ready: each has its cluster connection, so the rate limit counts in Redis rather than in its own memory.
    for (const api of apis) await pollUntil('the API to be ready', async () => (await statusOf(`${api.url}/readyz`)) === 200, 30_000, 200);
    cdn = await startNginxCdn(apis.map((api) => api.url), { port: cdnPort });
  }, 120_000);

  beforeEach(({ onTestFailed }) => {
    // What each process printed (warnings and worse), to tell why.
    onTestFailed(() => {
      for (const [i, api] of apis.entries()) console.error(`--- api ${i}\n${api.output()}`);
      for (const worker of workers) console.error(`--- ${worker.name}\n${worker.process.output()}`);
    });
  });

  afterAll(async () => {
    await Promise.allSettled(processes().map((child) => child.kill()));
    objectWrites?.stop();
    await Promise.allSettled([cdn?.stop(), ctx?.stop()]);
    await Promise.allSettled([s3?.stop(), cluster?.stop()]);
  }, 60_000);

  it(`counts uploads per client across both APIs: past ${RATE_LIMIT}, either API answers 429`, async () => {
    const client = { Authorization: 'Client-ID many-processes', 'X-Forwarded-For': '198.19.0.1' };
    for (let i = 0; i < RATE_LIMIT; i += 1) {
      const api = apiFor(i);
      const response = await postPhoto(apiUrl(api), photos[i]!, client);
      expect(response.status, await response.clone().text()).toBe(201);
      // The remaining count goes down across both processes: one count in the cluster.
      expect(response.headers.get('ratelimit')).toMatch(new RegExp(`^"uploads";r=${RATE_LIMIT - 1 - i};t=\\d+$`));
      uploads.push({ image: (await response.json()) as UploadResponse, api });
    }
    for (const api of [1, 0] as const) {
      const refused = await postPhoto(apiUrl(api), photos[RATE_LIMIT]!, client);
      expect(refused.status, `API ${api}`).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    }
  });

  it(`takes the other ${UPLOADS - RATE_LIMIT} uploads, spread over both APIs, while the three workers start`, async () => {
    expect(uploads).toHaveLength(RATE_LIMIT);
    // Opened before any worker runs, so each stream sees every change of its image.
    streams = await Promise.all(
      uploads.map(async (upload) => {
        const response = await fetch(`${apiUrl(otherApi(upload.api))}/api/v1/images/${upload.image.id}/events`, {
          headers: { Accept: 'text/event-stream' },
          signal: AbortSignal.timeout(WAIT_MS),
        });
        expect(response.status).toBe(200);
        const events = readEventStream(response);
        // Awaited by the next test; a failure before then must not count as unhandled.
        events.catch(() => undefined);
        return { upload, events };
      }),
    );

    const ports = [await freePort(), await freePort(), await freePort()];
    startWorker('general worker 1', GENERAL_QUEUES, ports[0]!);
    startWorker('general worker 2', GENERAL_QUEUES, ports[1]!);
    startWorker('AVIF-only worker', AVIF_QUEUE, ports[2]!);

    const rest = photos.slice(RATE_LIMIT).map((photo, i) => ({ photo, index: RATE_LIMIT + i }));
    await mapConcurrently(rest, UPLOADS_IN_FLIGHT, async ({ photo, index }) => {
      const api = apiFor(index);
      const response = await postPhoto(apiUrl(api), photo, { 'X-Forwarded-For': clientAddress(index) });
      if (response.status !== 201) throw new Error(`upload ${index} to API ${api} answered ${response.status}: ${await response.text()}`);
      uploads.push({ image: (await response.json()) as UploadResponse, api });
    });
    expect(uploads).toHaveLength(UPLOADS);
    expect(uploads.filter((upload) => upload.api === 0)).toHaveLength(UPLOADS / 2);
    expect(new Set(uploads.map((upload) => upload.image.url.slice(0, cdn!.url.length)))).toEqual(new Set([cdn!.url]));

    for (const worker of workers) {
      await pollUntil(`${worker.name} to serve its metrics`, async () => {
        expectAllRunning();
        return statusOf(worker.metricsUrl).then((status) => status === 200, () => false);
      }, 60_000, 200);
    }
  }, WAIT_MS);

  it('streams every change of an image through the API that did not take its upload', async () => {
    expect(streams).toHaveLength(RATE_LIMIT);
    for (const { upload, events } of streams) {
      const types = (await events).map((event) => (JSON.parse(event.data) as EventBody).type);
      // Each change the worker published reached the other API's subscriber through the cluster's pub/sub.
      expect(types[0], upload.image.id).toBe('image.updated');
      expect(types.filter((type) => type === 'image.rendition.ready'), upload.image.id).toHaveLength(18);
      expect(types.at(-1), upload.image.id).toBe('image.ready');
    }
  }, WAIT_MS);

  it(`settles all ${UPLOADS} ready with 18 ready renditions each, as either API tells`, async () => {
    expect(uploads).toHaveLength(UPLOADS);
    await pollUntil(
      'every asset to settle',
      async () => {
        expectAllRunning();
        const rows = await ctx!.services.db.execute<{ status: string; n: number }>(
          sql`select status, count(*)::int as n from assets group by status`,
        );
        const byStatus = Object.fromEntries(rows.map((row) => [row.status, row.n]));
        return byStatus.processing === undefined ? byStatus : undefined;
      },
      WAIT_MS,
      500,
    ).then((byStatus) => expect(byStatus).toEqual({ ready: UPLOADS }));

    // Each read through the API that did not take the upload.
    const settled = await mapConcurrently(uploads, UPLOADS_IN_FLIGHT, (upload) => getImage(apiUrl(otherApi(upload.api)), upload.image.id));
    const notReady = settled.filter((image) => image.status !== 'ready' || image.renditions.some((r) => r.status !== 'ready'));
    expect(notReady.map((image) => image.id)).toEqual([]);
    for (const image of settled) expect(image.renditions, image.id).toHaveLength(18);
  }, WAIT_MS);

  it('ran each stage once per asset: the AVIF-only worker every render-avif job and nothing else; each object stored once', async () => {
    const assets = await ctx!.services.db.execute<{ id: string }>(sql`select id from assets`);
    expect(assets).toHaveLength(UPLOADS);
    const onceEach = Object.fromEntries(STAGE_NAMES.map((stage) => [stage, UPLOADS]));

    // A job's completion is counted once its worker hears of it, a moment after the image settled.
    const perWorker = await pollUntil(
      'every stage job counted by its worker',
      async () => {
        const jobs = await Promise.all(workers.map((worker) => workerJobs(worker.metricsUrl)));
        const completed = sumPerQueue(jobs, 'completed');
        return STAGE_NAMES.every((stage) => (completed[stage] ?? 0) >= UPLOADS) ? jobs : undefined;
      },
      10_000,
      200,
    );
    const [general1, general2, avif] = perWorker as [WorkerJobs, WorkerJobs, WorkerJobs];
    expect(sumPerQueue(perWorker, 'completed')).toEqual(onceEach);
    expect(sumPerQueue(perWorker, 'failed')).toEqual({});
    expect(avif.completed).toEqual({ [AVIF_QUEUE]: UPLOADS });
    for (const general of [general1, general2]) {
      expect(general.completed).not.toHaveProperty(AVIF_QUEUE);
      // The work was shared: each general worker rendered some of the assets.
      expect(general.completed.render ?? 0).toBeGreaterThan(0);
    }

    // Nothing left to run, nothing failed.
    const counts = await ctx!.services.queues.jobCounts();
    for (const [queue, byState] of Object.entries(counts)) {
      expect(Object.entries(byState).filter(([, n]) => n > 0), queue).toEqual([]);
    }

    // Stored once: the original, its stripped copy and 18 renditions per asset, each key written a single time.
    const expectedKeys = assets.flatMap(({ id }) => [
      `assets/${id}/original`,
      `assets/${id}/stripped.jpg`,
      ...RENDITION_SIZES.flatMap((size) => RENDITION_FORMATS.map((format) => `assets/${id}/${size}.${format}`)),
    ]);
    const writes = objectWrites!.counts();
    expect([...writes.keys()].sort()).toEqual(expectedKeys.sort());
    expect([...writes].filter(([, n]) => n !== 1)).toEqual([]);
  });

  it('serves renditions through nginx, from its cache on the second request', async () => {
    const sample = uploads.filter((_, i) => i % 20 === 0);
    for (const { image } of sample) {
      for (const rendition of image.renditions.filter((r) => ['s.avif', 'm.webp', 'h.jpg'].includes(`${r.size}.${r.format}`))) {
        expect(rendition.url.startsWith(`${cdn!.url}/i/`), rendition.url).toBe(true);
        const first = await fetchBytes(rendition.url, { signal: AbortSignal.timeout(10_000) });
        const again = await fetchBytes(rendition.url, { signal: AbortSignal.timeout(10_000) });
        const seen = (answer: typeof first) => [
          answer.response.status,
          answer.response.headers.get('x-rendition-status'),
          answer.response.headers.get('cache-control'),
          answer.response.headers.get('x-cache-status'),
        ];
        expect([seen(first), seen(again)], rendition.url).toEqual([
          [200, 'ready', IMMUTABLE, 'MISS'],
          [200, 'ready', IMMUTABLE, 'HIT'],
        ]);
        expect(again.body.equals(first.body), rendition.url).toBe(true);
        const { format, width, height } = await sharp(first.body).metadata();
        expect({ format, width, height }, rendition.url).toEqual({
          format: { avif: 'heif', webp: 'webp', jpg: 'jpeg' }[rendition.format],
          width: rendition.width,
          height: rendition.height,
        });
      }
    }
  });

  it('lost no process: both APIs, the three workers and nginx are still running', () => {
    for (const p of processes()) console.log('---TMP', p.output());
    expect(processes()).toHaveLength(5);
    expectAllRunning();
    expect(cdn!.running()).toBe(true);
  });
});
