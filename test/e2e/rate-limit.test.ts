import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '@renditions/api';
import { createLogger } from '@renditions/observability';
import { createServices, type ServicesHandle } from '@renditions/pipeline';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { pollUntil } from '../support/fault-scenarios';
import { PrivateRedis } from '../support/redis-server';

const QUOTA = 3;
const PHOTO = readCorpus('photos/Kodak_CX7530.jpg');

async function uploadWith(baseUrl: string, headers: Record<string, string> = {}, file: Buffer | null = PHOTO): Promise<Response> {
  const form = new FormData();
  if (file) form.append('image', new Blob([file], { type: 'image/jpeg' }), 'photo.jpg');
  const response = await fetch(`${baseUrl}/api/v1/images`, { method: 'POST', body: form, headers });
  await response.clone().arrayBuffer(); // read now, so no answer is left hanging on a keep-alive connection
  return response;
}

/**
 * An upload of `fileBytes` sent over a raw socket by a client that reads nothing until `readAfterMs` after it began
 * sending, as a busy client may: the answer as it then arrives, cut where the connection ends (a reset included).
 */
async function answerReadLate(baseUrl: string, headers: Record<string, string>, fileBytes: number, readAfterMs: number): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  const socket = net.connect(Number(port), hostname);
  await once(socket, 'connect');
  socket.pause();
  socket.on('error', () => undefined);
  const boundary = 'late-reader';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
    Buffer.alloc(fileBytes, 0xab),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const head = [
    'POST /api/v1/images HTTP/1.1',
    `Host: ${hostname}:${port}`,
    `Content-Type: multipart/form-data; boundary=${boundary}`,
    `Content-Length: ${body.length}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    '',
    '',
  ].join('\r\n');
  socket.write(head);
  socket.write(body);
  await sleep(readAfterMs);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, 10_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)\r\n/i.exec(text)?.[1];
      if (split >= 0 && length !== undefined && text.length - split - 4 >= Number(length)) done();
    });
    socket.on('close', done);
    socket.resume();
  });
}

/**
 * Until a process's Redis connection is up (its first moments), it counts uploads in memory; the tests that look at
 * the shared count start once it is.
 */
async function redisConnected(services: ServicesHandle): Promise<void> {
  await pollUntil('the Redis connection', async () => services.queues.connection.status === 'ready', 10_000);
}

const asClient = (id: string) => ({ Authorization: `Client-ID ${id}` });
const forwardedFor = (address: string) => ({ 'X-Forwarded-For': address });

/** The draft's fields as sent: `"uploads";q=3;w=60` and `"uploads";r=2;t=60`. */
function rateLimitFields(response: Response): { quota: number; window: number; remaining: number; reset: number } {
  const policy = /^"uploads";q=(\d+);w=(\d+)$/.exec(response.headers.get('ratelimit-policy') ?? '');
  const state = /^"uploads";r=(\d+);t=(\d+)$/.exec(response.headers.get('ratelimit') ?? '');
  if (!policy || !state) {
    throw new Error(`no RateLimit fields: ${response.headers.get('ratelimit-policy')} / ${response.headers.get('ratelimit')}`);
  }
  return { quota: Number(policy[1]), window: Number(policy[2]), remaining: Number(state[1]), reset: Number(state[2]) };
}

async function expectRateLimited(response: Response): Promise<void> {
  expect(response.status).toBe(429);
  expect(((await response.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(rateLimitFields(response)).toMatchObject({ quota: QUOTA, remaining: 0 });
}

describe(`upload rate limit (RATE_LIMIT_UPLOADS_PER_MINUTE=${QUOTA})`, () => {
  let ctx: TestContext;
  /** A second API process: its own services and connections, the same Redis and prefix. */
  let otherServices: ServicesHandle;
  let otherApi: RunningServer;

  beforeAll(async () => {
    ctx = await createTestContext({ worker: false, env: { RATE_LIMIT_UPLOADS_PER_MINUTE: String(QUOTA) } });
    otherServices = createServices(ctx.services.config, createLogger({ level: 'silent', name: 'other-api' }));
    otherApi = await startServer(otherServices, { port: 0, host: '127.0.0.1' });
    await Promise.all([redisConnected(ctx.services), redisConnected(otherServices)]);
  });

  afterAll(async () => {
    await otherApi?.stop().catch(() => undefined);
    await otherServices?.close();
    await ctx?.stop();
  });

  it('answers the 4th upload of a client 429 with Retry-After, every answer carrying the RateLimit fields', async () => {
    for (let n = 1; n <= QUOTA; n += 1) {
      const response = await uploadWith(ctx.url, asClient('alpha'));
      expect(response.status).toBe(201);
      const fields = rateLimitFields(response);
      expect(fields).toMatchObject({ quota: QUOTA, window: 60, remaining: QUOTA - n });
      expect(fields.reset).toBeGreaterThan(0);
      expect(fields.reset).toBeLessThanOrEqual(60);
    }
    await expectRateLimited(await uploadWith(ctx.url, asClient('alpha')));
  });

  it('hands a refused upload its 429 also when the client reads it only after sending its whole body', async () => {
    const client = asClient('late-reader');
    for (let n = 1; n <= QUOTA; n += 1) expect((await uploadWith(ctx.url, client)).status).toBe(201);
    // Closing with the body unread would reset the connection, and the answer waiting unread at the client with it.
    const answer = await answerReadLate(ctx.url, client, 4 * 1024 * 1024, 500);
    expect(answer).toMatch(/^HTTP\/1\.1 429 /);
    expect(answer).toContain('"rate_limited"');
  });

  it('does not limit a different Client-ID', async () => {
    const response = await uploadWith(ctx.url, asClient('beta'));
    expect(response.status).toBe(201);
    expect(rateLimitFields(response).remaining).toBe(QUOTA - 1);
  });

  it('puts the RateLimit fields on a refused upload too', async () => {
    const response = await uploadWith(ctx.url, asClient('gamma'), null);
    expect(response.status).toBe(400);
    expect(rateLimitFields(response).remaining).toBe(QUOTA - 1);
  });

  it('keeps one count across API processes, through Redis', async () => {
    const client = asClient('shared');
    expect((await uploadWith(ctx.url, client)).status).toBe(201);
    expect((await uploadWith(otherApi.url, client)).status).toBe(201);
    expect((await uploadWith(ctx.url, client)).status).toBe(201);
    await expectRateLimited(await uploadWith(otherApi.url, client));
  });

  it('ignores X-Forwarded-For by default (TRUST_PROXY=false): the socket address is the client', async () => {
    for (let n = 1; n <= QUOTA; n += 1) {
      expect((await uploadWith(ctx.url, forwardedFor(`203.0.113.${n}`))).status).toBe(201);
    }
    await expectRateLimited(await uploadWith(ctx.url, forwardedFor('203.0.113.99')));
  });

  it('counts uploads naming a Client-ID against their address too, so rotating Client-IDs meets a ceiling', async () => {
    let refused: Response | undefined;
    // Refused (400) uploads count as well, and cost nothing to send.
    for (let attempt = 0; attempt <= QUOTA * 10 && !refused; attempt += 1) {
      const response = await uploadWith(ctx.url, asClient(`rotating-${attempt}`), null);
      if (response.status === 429) refused = response;
    }
    expect(refused).toBeDefined();
    await expectRateLimited(refused!);
  });
});

describe('upload rate limit behind a trusted proxy (TRUST_PROXY=loopback)', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false, env: { RATE_LIMIT_UPLOADS_PER_MINUTE: String(QUOTA), TRUST_PROXY: 'loopback' } });
    await redisConnected(ctx.services);
  });
  afterAll(async () => {
    await ctx?.stop();
  });

  it('counts each X-Forwarded-For address separately', async () => {
    for (let n = 1; n <= QUOTA; n += 1) {
      expect((await uploadWith(ctx.url, forwardedFor('198.51.100.7'))).status).toBe(201);
    }
    await expectRateLimited(await uploadWith(ctx.url, forwardedFor('198.51.100.7')));
    expect((await uploadWith(ctx.url, forwardedFor('198.51.100.8'))).status).toBe(201);
    // An IPv6 client is one client across its /64.
    expect((await uploadWith(ctx.url, forwardedFor('2001:db8:1:2::1'))).status).toBe(201);
    expect((await uploadWith(ctx.url, forwardedFor('2001:db8:1:2::2'))).status).toBe(201);
    expect((await uploadWith(ctx.url, forwardedFor('2001:db8:1:2:ffff::3'))).status).toBe(201);
    await expectRateLimited(await uploadWith(ctx.url, forwardedFor('2001:db8:1:2::4')));
  });
});

describe('upload rate limit while Redis is unreachable', () => {
  let redis: PrivateRedis;
  let ctx: TestContext;
  beforeAll(async () => {
    redis = await PrivateRedis.start();
    ctx = await createTestContext({ worker: false, env: { REDIS_URL: redis.url, RATE_LIMIT_UPLOADS_PER_MINUTE: String(QUOTA) } });
  });
  afterAll(async () => {
    // Back up, as the context's stop expects to find it.
    await redis?.resume();
    await ctx?.stop();
    await redis?.kill();
  });

  it('still takes uploads, counted in memory by the process', async () => {
    await redis.kill();
    const started = Date.now();
    const response = await uploadWith(ctx.url, asClient('offline'));
    expect(response.status).toBe(201);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(rateLimitFields(response)).toMatchObject({ quota: QUOTA, remaining: QUOTA - 1 });
    expect((await uploadWith(ctx.url, asClient('offline'))).status).toBe(201);
    expect((await uploadWith(ctx.url, asClient('offline'))).status).toBe(201);
    const refusedAt = Date.now();
    await expectRateLimited(await uploadWith(ctx.url, asClient('offline')));
    // The refusal needs neither Redis nor the pipeline: it comes at once.
    expect(Date.now() - refusedAt).toBeLessThan(1000);
  });
});
