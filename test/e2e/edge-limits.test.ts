import { readdir, stat } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '@renditions/api';
import { uploadGate } from '../../apps/api/src/middleware/upload-gate';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { countCalls, pollUntil, useFaultyStorage } from '../support/fault-scenarios';

const MAX_UPLOAD_BYTES = 1024 * 1024;
const BOUNDARY = 'edge-limits-boundary';
const ORIGINAL = /^assets\/[^/]+\/original$/;
const PHOTO = readCorpus('photos/Kodak_CX7530.jpg');

/** A JPEG no earlier upload has, so its upload stores a new original rather than joining an existing image. */
let freshColour = 0;
async function freshJpeg(): Promise<Buffer> {
  freshColour += 1;
  const background = { r: freshColour % 256, g: (freshColour * 7) % 256, b: 90 };
  return sharp({ create: { width: 32, height: 24, channels: 3, background } }).jpeg().toBuffer();
}

/** Every raw socket a test opens, destroyed in afterAll whatever happened. */
const sockets = new Set<Socket>();

async function openSocket(baseUrl: string): Promise<Socket> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  sockets.add(socket);
  socket.on('error', () => undefined); // a reset by the server is an expected outcome here
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

interface Answer {
  text: string;
  status: number;
  /** When the server closed the connection, in ms from `untilClosed` being called. */
  closedAfterMs: number;
}

/** Everything the server sends until it closes the connection (fails the test past `timeoutMs`). */
function untilClosed(socket: Socket, timeoutMs: number): Promise<Answer> {
  const started = Date.now();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ text, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), closedAfterMs: Date.now() - started });
    });
  });
}

function jsonBodyOf(answer: Answer): { error?: { code: string } } {
  return JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4)) as { error?: { code: string } };
}

function uploadHead(headers: Record<string, string | number>): string {
  const lines = Object.entries({ Host: 'edge.test', 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, ...headers });
  return `POST /api/v1/images HTTP/1.1\r\n${lines.map(([name, value]) => `${name}: ${value}`).join('\r\n')}\r\n\r\n`;
}

const FILE_PART_HEAD = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;

/** The files uploads are spooled to: in the storage's spool directory, which this test's context has to itself. */
async function spoolFiles(ctx: TestContext): Promise<string[]> {
  return readdir(ctx.services.storage.spoolDirectory).catch(() => [] as string[]);
}

/** Whether a spooled file of at least `bytes` is still there. */
async function spooledAtLeast(ctx: TestContext, bytes: number): Promise<boolean> {
  const directory = ctx.services.storage.spoolDirectory;
  const sizes = await Promise.all((await spoolFiles(ctx)).map((name) => stat(path.join(directory, name)).then((s) => s.size, () => 0)));
  return sizes.some((size) => size >= bytes);
}

async function uploadAs(baseUrl: string, clientId: string, file = PHOTO): Promise<Response> {
  const form = new FormData();
  form.append('image', new Blob([file], { type: 'image/jpeg' }), 'photo.jpg');
  return fetch(`${baseUrl}/api/v1/images`, { method: 'POST', body: form, headers: { Authorization: `Client-ID ${clientId}` } });
}

describe('the upload edge: early 413, a body cut off at the limit, slow clients, concurrent uploads', () => {
  let ctx: TestContext;
  /** A second server on the same services with short timeouts, so slow-client cases take seconds. */
  let quick: RunningServer;

  beforeAll(async () => {
    ctx = await createTestContext({
      worker: false,
      // A quota no test reaches: it turns the per-client cap on (it is off with RATE_LIMIT_UPLOADS_PER_MINUTE=0).
      env: { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES), MAX_CONCURRENT_UPLOADS: '1', RATE_LIMIT_UPLOADS_PER_MINUTE: '1000' },
    });
    quick = await startServer(ctx.services, {
      port: 0,
      host: '127.0.0.1',
      edge: {
        headersTimeoutMs: 1000,
        requestTimeoutMs: 10_000,
        bodyIdleTimeoutMs: 1000,
        bodyGraceMs: 1000,
        minBodyBytesPerSecond: 1000,
        maxConnectionsPerAddress: 3,
        drainRefusedBodyMs: 1000,
      },
    });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await quick?.stop().catch(() => undefined);
    await ctx?.stop();
  });

  it('answers a declared 2 GB body 413 at once, without reading it, and closes the connection', async () => {
    const socket = await openSocket(ctx.url);
    const answer = untilClosed(socket, 5000);
    socket.write(uploadHead({ 'Content-Length': 2 * 1024 ** 3 }));
    const { status, text, closedAfterMs } = await answer;
    expect(status).toBe(413);
    expect(text).toMatch(/\r\nconnection: close\r\n/i);
    expect(jsonBodyOf(await answer).error?.code).toBe('file_too_large');
    expect(closedAfterMs).toBeLessThan(1000);
  });

  it('cuts a chunked body off where it passes the limit instead of reading it all', async () => {
    const accepted: Array<{ socket: Socket; port?: number }> = [];
    const track = (socket: Socket) => accepted.push({ socket, port: socket.remotePort });
    ctx.api.server.on('connection', track);
    const socket = await openSocket(ctx.url);
    const localPort = socket.localPort;
    const answer = untilClosed(socket, 10_000);
    let closed = false;
    void answer.finally(() => (closed = true));

    const chunk = (data: Buffer | string) => `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`;
    socket.write(uploadHead({ 'Transfer-Encoding': 'chunked' }) + chunk(FILE_PART_HEAD));
    const SEND_AT_MOST = 64 * MAX_UPLOAD_BYTES;
    const piece = Buffer.alloc(256 * 1024, 0xab);
    const framed = Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]);
    let sent = 0;
    while (!closed && sent < SEND_AT_MOST) {
      sent += piece.length;
      if (!socket.write(framed)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), answer]);
    }

    const result = await answer;
    ctx.api.server.off('connection', track);
    expect(result.status).toBe(413);
    expect(jsonBodyOf(result).error?.code).toBe('file_too_large');
    // The server read little past the limit (about 1.1 MB here) and closed, while the client still had 64 MB to send.
    const server = accepted.find(({ port }) => port === localPort)?.socket;
    expect(server?.bytesRead).toBeLessThan(2 * MAX_UPLOAD_BYTES);
    expect(sent).toBeLessThan(SEND_AT_MOST);
    // And the part of the file it had spooled is gone.
    await pollUntil('the spooled part to be removed', async () => !(await spooledAtLeast(ctx, MAX_UPLOAD_BYTES)), 5000);
  });

  it('reads the rest of a body refused before it was read, so the client gets its answer, and keeps the connection', async () => {
    const accepted: Socket[] = [];
    const track = (socket: Socket) => accepted.push(socket);
    quick.server.on('connection', track);
    const socket = await openSocket(quick.url);
    quick.server.off('connection', track);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const received = () => Buffer.concat(chunks).toString('latin1');
    const answers = () => received().match(/HTTP\/1\.1 \d{3} /g) ?? [];
    const health = 'GET /healthz HTTP/1.1\r\nHost: edge.test\r\n\r\n';
    socket.write(health);
    await pollUntil('the first answer', async () => answers().length === 1, 5000);
    const serverSide = accepted.find((candidate) => candidate.remotePort === socket.localPort)!;
    const closeListeners = serverSide.listenerCount('close');
    // Not multipart: refused (400 missing_file) without a byte of the body read. Three on one connection.
    for (let refused = 2; refused <= 4; refused += 1) {
      socket.write(uploadHead({ 'Content-Type': 'application/octet-stream', 'Content-Length': 300_000 }));
      for (let sent = 0; sent < 300_000; sent += 50_000) {
        socket.write(Buffer.alloc(50_000, 0xab));
        await sleep(20);
      }
      await pollUntil(`answer ${refused}`, async () => answers().length === refused, 5000);
    }
    expect(answers()).toEqual(['HTTP/1.1 200 ', 'HTTP/1.1 400 ', 'HTTP/1.1 400 ', 'HTTP/1.1 400 ']);
    expect(received().match(/"missing_file"/g)).toHaveLength(3);
    expect(received()).not.toMatch(/\r\nconnection: close\r\n/i);
    socket.write(health);
    await pollUntil('the next answer on the same connection', async () => answers().length === 5, 5000);
    expect(answers()[4]).toBe('HTTP/1.1 200 ');
    // Nothing a drain listened with stays on the kept connection.
    expect(serverSide.listenerCount('close')).toBe(closeListeners);
    socket.destroy();
  });

  it('drains a form body that an Imgur upload stopped reading part-way, and keeps the connection', async () => {
    const socket = await openSocket(quick.url);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const received = () => Buffer.concat(chunks).toString('latin1');
    // 21 fields, one over the limit, then 200 KB the reader never gets to.
    const fields = Array.from({ length: 21 }, (_, i) => `field${i}=x`).join('&');
    const body = `${fields}&padding=${'x'.repeat(200_000)}`;
    const head = ['POST /3/image HTTP/1.1', 'Host: edge.test', 'Content-Type: application/x-www-form-urlencoded', `Content-Length: ${body.length}`];
    socket.write(`${head.join('\r\n')}\r\n\r\n`);
    socket.write(body);
    await pollUntil('the answer', async () => /form fields/.test(received()), 5000);
    expect(received()).toMatch(/^HTTP\/1\.1 400 /);
    socket.write('GET /healthz HTTP/1.1\r\nHost: edge.test\r\n\r\n');
    await pollUntil('the next answer on the same connection', async () => /HTTP\/1\.1 200 /.test(received()), 5000);
    socket.destroy();
  });

  it('cuts off a refused body still arriving once its drain time is over', async () => {
    const socket = await openSocket(quick.url);
    const answer = untilClosed(socket, 8000);
    socket.write(uploadHead({ 'Content-Type': 'application/octet-stream', 'Content-Length': 300_000 }));
    const drip = setInterval(() => socket.writable && socket.write(Buffer.alloc(2000, 0xab)), 100);
    try {
      const { status, closedAfterMs } = await answer;
      expect(status).toBe(400);
      // Read for the 1 s drain time after the answer, although the client keeps its pace (20 KB/s).
      expect(closedAfterMs).toBeGreaterThanOrEqual(900);
      expect(closedAfterMs).toBeLessThan(4000);
    } finally {
      clearInterval(drip);
    }
  });

  it('cuts off a refused body being drained when the server stops, instead of waiting for it', async () => {
    const patient = await startServer(ctx.services, { port: 0, host: '127.0.0.1', edge: { drainRefusedBodyMs: 30_000 } });
    const socket = await openSocket(patient.url);
    const answer = untilClosed(socket, 8000);
    socket.write(uploadHead({ 'Content-Type': 'application/octet-stream', 'Content-Length': 300_000 }));
    const drip = setInterval(() => socket.writable && socket.write(Buffer.alloc(2000, 0xab)), 100);
    try {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      await pollUntil('the answer', async () => /"missing_file"/.test(Buffer.concat(chunks).toString('latin1')), 5000);
      const stopping = Date.now();
      await patient.stop();
      expect(Date.now() - stopping).toBeLessThan(2000);
      expect((await answer).status).toBe(400);
    } finally {
      clearInterval(drip);
      await patient.stop().catch(() => undefined);
    }
  });

  it('cuts off a client that drips its body a byte at a time', async () => {
    const socket = await openSocket(quick.url);
    const answer = untilClosed(socket, 8000);
    socket.write(uploadHead({ 'Content-Length': 100_000 }) + FILE_PART_HEAD);
    const drip = setInterval(() => socket.writable && socket.write('x'), 200);
    try {
      const { closedAfterMs } = await answer;
      // Past the 1 s grace at 1000 B/s, a handful of bytes buys nothing more.
      expect(closedAfterMs).toBeGreaterThanOrEqual(900);
      expect(closedAfterMs).toBeLessThan(4000);
    } finally {
      clearInterval(drip);
    }
    await pollUntil('the dripped part to be removed', async () => (await spoolFiles(ctx)).length === 0, 5000);
  });

  it('removes the spool file of a client that goes away mid-body', async () => {
    const socket = await openSocket(ctx.url);
    socket.write(uploadHead({ 'Content-Length': 600_000, Authorization: 'Client-ID gone-mid-body' }) + FILE_PART_HEAD);
    socket.write(Buffer.alloc(300_000, 0xab));
    await pollUntil('the upload to be spooling', async () => spooledAtLeast(ctx, 100_000), 5000);
    socket.destroy();
    await pollUntil('its spool file to be removed', async () => (await spoolFiles(ctx)).length === 0, 5000);
  });

  it('cuts off a client that drips its request headers (408)', async () => {
    const socket = await openSocket(quick.url);
    const answer = untilClosed(socket, 8000);
    socket.write('GET /healthz HTTP/1.1\r\nHost: edge.test\r\nX-Slow: ');
    const drip = setInterval(() => socket.writable && socket.write('x'), 200);
    try {
      const { status, closedAfterMs } = await answer;
      expect(status).toBe(408);
      expect(closedAfterMs).toBeLessThan(3500);
    } finally {
      clearInterval(drip);
    }
  });

  it('refuses connections from one address past its cap, and serves the ones it holds', async () => {
    const held = [await openSocket(quick.url), await openSocket(quick.url), await openSocket(quick.url)];
    const extra = await openSocket(quick.url);
    const refused = await untilClosed(extra, 2000);
    expect(refused.text).toBe('');
    expect(refused.closedAfterMs).toBeLessThan(1000);

    const answer = untilClosed(held[0]!, 3000);
    held[0]!.write('GET /healthz HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n');
    expect((await answer).status).toBe(200);
    for (const socket of held) socket.destroy();
  });

  it('caps the uploads one client has in flight (429), without limiting others', async () => {
    const slow = await Promise.all(Array.from({ length: 4 }, () => openSocket(ctx.url)));
    for (const socket of slow) {
      socket.write(uploadHead({ 'Content-Length': 100_000, Authorization: 'Client-ID slow-client' }) + FILE_PART_HEAD);
    }
    const refused = await pollUntil(
      'the fifth upload of the client to be refused',
      async () => {
        const response = await uploadAs(ctx.url, 'slow-client');
        return response.status === 429 ? response : (void (await response.body?.cancel()), undefined);
      },
      5000,
      100,
    );
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    expect((await uploadAs(ctx.url, 'another-client')).status).toBe(201);

    for (const socket of slow) socket.destroy();
    await pollUntil('the client to upload again', async () => (await uploadAs(ctx.url, 'slow-client')).status === 201, 5000, 100);
  });

  it('MAX_CONCURRENT_UPLOADS=1: a second upload waits for the first, then both succeed', async () => {
    const { faulty, restore } = useFaultyStorage(ctx);
    try {
      const hold = faulty.inject({ method: 'put', key: ORIGINAL, times: 1, mode: 'stall' });
      const first = uploadAs(ctx.url, 'first', await freshJpeg());
      await pollUntil('the first upload to reach storage', async () => countCalls(faulty, 'put', ORIGINAL) === 1, 5000);
      const second = uploadAs(ctx.url, 'second', await freshJpeg());
      const turns = uploadGate(ctx.services).turns;
      await pollUntil('the second upload to wait for its turn', async () => turns.queued === 1, 5000);
      await sleep(300);
      expect(countCalls(faulty, 'put', ORIGINAL)).toBe(1);

      hold.clear();
      const [a, b] = await Promise.all([first, second]);
      expect([a.status, b.status]).toEqual([201, 201]);
      expect(countCalls(faulty, 'put', ORIGINAL)).toBe(2);
    } finally {
      restore();
    }
  });

  it('answers 503 with Retry-After once the wait queue is full', async () => {
    const { faulty, restore } = useFaultyStorage(ctx);
    try {
      const hold = faulty.inject({ method: 'put', key: ORIGINAL, times: 1, mode: 'stall' });
      const turns = uploadGate(ctx.services).turns;
      const held = uploadAs(ctx.url, 'holder', await freshJpeg());
      await pollUntil('the held upload to reach storage', async () => countCalls(faulty, 'put', ORIGINAL) === 1, 5000);
      const queued = Array.from({ length: turns.maxQueued }, (_, n) => uploadAs(ctx.url, `queued-${n}`));
      await pollUntil('the queue to fill', async () => turns.queued === turns.maxQueued, 5000);

      const refused = await uploadAs(ctx.url, 'one-too-many');
      expect(refused.status).toBe(503);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('unavailable');

      hold.clear();
      const statuses = (await Promise.all([held, ...queued])).map((response) => response.status);
      expect(statuses.every((status) => status === 201)).toBe(true);
    } finally {
      restore();
    }
  });

  it('still takes an ordinary upload through the server with the short timeouts', async () => {
    expect((await uploadAs(quick.url, 'ordinary')).status).toBe(201);
  });
});
