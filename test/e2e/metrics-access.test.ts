import { connect } from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, startMetricsServer } from '@renditions/observability';
import { createTestContext, type TestContext } from '../support/context';
import { spawnWorker, type SpawnedProcess } from '../support/fault-scenarios';
import { freePort } from '../support/ports';

const TOKEN = 'scrape-me-3f9a';

/** An address of this machine other than loopback, where a loopback-only server must not answer. */
const outsideAddress = Object.values(os.networkInterfaces())
  .flat()
  .find((nic) => nic && nic.family === 'IPv4' && !nic.internal)?.address;

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

describe("the API's /metrics with METRICS_TOKEN", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false, env: { METRICS_TOKEN: TOKEN } });
  });
  afterAll(async () => ctx?.stop());

  it('answers 401 without the bearer token, and the Prometheus text with it', async () => {
    for (const authorization of [undefined, 'Bearer wrong', `Basic ${TOKEN}`, TOKEN, `Bearer ${TOKEN}x`]) {
      const response = await fetch(`${ctx.url}/metrics`, { headers: authorization ? { Authorization: authorization } : {} });
      expect(response.status, authorization).toBe(401);
      expect(response.headers.get('www-authenticate'), authorization).toMatch(/^Bearer /);
      expect(await response.json()).toMatchObject({ error: { code: 'unauthorized' } });
    }
    const response = await fetch(`${ctx.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toContain('# TYPE uploads_total counter');
  });
});

describe("the worker's metrics server", () => {
  it('listens on loopback unless told otherwise, and its URL names the address really bound', async () => {
    const server = await startMetricsServer(createMetrics().registry, { port: 0 });
    try {
      const { hostname, port } = new URL(server.url);
      expect(hostname).toBe('127.0.0.1');
      expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
      if (outsideAddress) expect(await accepts(outsideAddress, Number(port))).toBe(false);
    } finally {
      await server.stop();
    }
    const everywhere = await startMetricsServer(createMetrics().registry, { port: 0, host: '0.0.0.0' });
    try {
      expect(new URL(everywhere.url).hostname).toBe('0.0.0.0');
      if (outsideAddress) expect(await accepts(outsideAddress, Number(new URL(everywhere.url).port))).toBe(true);
    } finally {
      await everywhere.stop();
    }
  });

  it('asks for the bearer token when one is set', async () => {
    const server = await startMetricsServer(createMetrics().registry, { port: 0, token: TOKEN });
    try {
      const denied = await fetch(`${server.url}/metrics`);
      expect(denied.status).toBe(401);
      expect(denied.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect((await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  describe('in a worker process', () => {
    let ctx: TestContext;
    let worker: SpawnedProcess | undefined;
    beforeAll(async () => {
      ctx = await createTestContext({ worker: false });
    });
    afterAll(async () => {
      await worker?.kill();
      await ctx?.stop();
    });

    it('logs the address it really listens on, loopback by default', async () => {
      const port = await freePort();
      worker = spawnWorker(ctx, { WORKER_METRICS_PORT: String(port), LOG_LEVEL: 'info' });
      let url: string | undefined;
      await expect.poll(() => (url = /"msg":"worker metrics: (http:[^"]+)"/.exec(worker!.output())?.[1]), { timeout: 30_000 }).toBeDefined();
      expect(url).toBe(`http://127.0.0.1:${port}/metrics`);
      expect((await fetch(url!)).status).toBe(200);
      if (outsideAddress) expect(await accepts(outsideAddress, port)).toBe(false);
    });
  });
});
