import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, startMetricsServer, type RunningMetricsServer } from '@renditions/observability';
import { QUEUE_NAMES } from '@renditions/pipeline';
import { QueueClient } from '@renditions/queue';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload, waitForImage, type UploadResponse } from '../support/http';
import { parseSamples, sampleValue, scrape } from '../support/prometheus';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

describe('metrics of the API and of the worker', () => {
  let ctx: TestContext;
  let workerMetricsServer: RunningMetricsServer;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    // No worker at first, so the upload's jobs wait in their queues where queue_depth must see them.
    ctx = await createTestContext({ worker: false, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await workerMetricsServer?.stop();
    await ctx?.stop();
    await receiver?.close();
  });

  let created: UploadResponse;

  it('counts the upload and its latency, and reads every queue depth at scrape time', async () => {
    const response = await upload(ctx.url, readCorpus('photos/DSCN0021.jpg'), { fields: { callback_url: `${receiver.url}/hook` } });
    expect(response.status).toBe(201);
    created = (await response.json()) as UploadResponse;

    const text = await scrape(`${ctx.url}/metrics`);
    expect(sampleValue(text, 'uploads_total', { outcome: 'created' })).toBe(1);
    expect(sampleValue(text, 'upload_duration_seconds_count')).toBe(1);
    expect(sampleValue(text, 'upload_duration_seconds_sum')).toBeGreaterThan(0);
    for (const queue of QUEUE_NAMES) {
      expect(sampleValue(text, 'queue_depth', { queue, state: 'active' }), queue).toBe(0);
    }
    // The flow's leaves wait for a worker; its inner jobs wait for their children (FLOW_TREE).
    for (const queue of ['strip', 'phash', 'render']) {
      expect(sampleValue(text, 'queue_depth', { queue, state: 'waiting' }), queue).toBe(1);
    }
    for (const queue of ['moderation', 'render-avif', 'settle']) {
      expect(sampleValue(text, 'queue_depth', { queue, state: 'waiting-children' }), queue).toBe(1);
    }
  });

  it("serves the worker's job durations, failures and webhook deliveries on its own port", async () => {
    const metrics = createMetrics();
    ctx.startWorker({ metrics });
    workerMetricsServer = await startMetricsServer(metrics.registry, { port: 0, host: '127.0.0.1' });
    await waitForImage(ctx.url, created.id, (image) => image.status === 'ready');

    const workerUrl = `${workerMetricsServer.url}/metrics`;
    // The worker records a job just after it completes, so the settle job may land a moment after `ready`.
    await expect
      .poll(async () => sampleValue(await scrape(workerUrl), 'job_duration_seconds_count', { queue: 'settle' }), { timeout: 10_000 })
      .toBe(1);
    const text = await scrape(workerUrl);
    for (const queue of ['strip', 'phash', 'moderation', 'render', 'render-avif']) {
      expect(sampleValue(text, 'job_duration_seconds_count', { queue }), queue).toBe(1);
    }
    expect(parseSamples(text).filter((sample) => sample.name === 'job_failures_total')).toEqual([]);

    // Deliveries go out after the events they announce; each one the receiver answered is counted as delivered.
    await receiver.waitFor((requests) => requests.some((request) => request.body.type === 'image.ready'), 30_000);
    const deliveredAndReceived = async () => [
      sampleValue(await scrape(workerUrl), 'webhook_deliveries_total', { outcome: 'delivered' }),
      receiver.requests.length,
    ];
    await expect.poll(deliveredAndReceived, { timeout: 10_000 }).toSatisfy(([delivered, received]) => delivered === received);

    const api = await scrape(`${ctx.url}/metrics`);
    for (const queue of ['strip', 'render', 'render-avif', 'settle']) {
      expect(sampleValue(api, 'queue_depth', { queue, state: 'waiting' }), queue).toBe(0);
    }
    expect((await fetch(`${workerMetricsServer.url}/other`)).status).toBe(404);
  });
});

describe('a scrape while Redis does not answer', () => {
  let blackHole: ReturnType<typeof createTcpServer>;
  const sockets: Socket[] = [];
  let client: QueueClient;
  beforeAll(async () => {
    // Accepts connections and never says a word: the way a hung Redis looks to a client.
    blackHole = createTcpServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const { port } = blackHole.address() as AddressInfo;
    client = new QueueClient({ redisUrl: `redis://127.0.0.1:${port}`, prefix: '{metrics-test}', queueNames: QUEUE_NAMES, commandTimeoutMs: 500 });
  });
  afterAll(async () => {
    await client?.close();
    for (const socket of sockets) socket.destroy();
    blackHole?.close();
  });

  it('still answers in time, with no queue_depth series', async () => {
    const metrics = createMetrics({ readQueueDepth: () => client.jobCounts() });
    const text = await metrics.registry.metrics();
    expect(text).toContain('# TYPE queue_depth gauge');
    expect(parseSamples(text).filter((sample) => sample.name === 'queue_depth')).toEqual([]);
    expect(parseSamples(text).some((sample) => sample.name === 'process_cpu_user_seconds_total')).toBe(true);
  });
});
