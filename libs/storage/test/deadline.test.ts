import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FaultyStorage } from '../../../test/support/faulty-storage';
import { startS3Server, type S3TestServer } from '../../../test/support/s3';
import { LocalStorage, S3Storage, StorageUnavailableError, createStorage, type ObjectStorage } from '../src/index';
import { BYTES, OCTETS, keysOf, s3ConfigFor } from './fixtures';

const TIMEOUT_MS = 500;
/** The deadline plus generous slack for a loaded CI machine; far below the SDK's own 30 s socket timeout. */
const ANSWERED_WITHIN_MS = 1_500;

/** Accepts TCP connections, reads whatever is sent and never answers: a hung S3. */
async function startBlackHole(): Promise<{ endpoint: string; openConnections(): number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    openConnections: () => sockets.size,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Folders of the files fileOf wrote, removed after the tests. */
const fileFolders: string[] = [];
afterAll(async () => {
  await Promise.all(fileFolders.map((folder) => rm(folder, { recursive: true, force: true })));
});

/** A file holding `bytes`, as an upload's spool file. */
async function fileOf(bytes: Buffer): Promise<string> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'deadline-test-'));
  fileFolders.push(folder);
  const file = path.join(folder, 'spooled');
  await writeFile(file, bytes);
  return file;
}

/** A request body that sends one chunk and then nothing, like a client that stopped mid-upload. */
function stalledBody(): Readable {
  const body = new Readable({ read() {} });
  body.push(Buffer.from('partial'));
  return body;
}

describe('s3 storage against an endpoint that never answers', () => {
  let blackHole: Awaited<ReturnType<typeof startBlackHole>>;
  let storage: S3Storage;
  const storageAt = (endpoint: string, timeoutMs: number) =>
    new S3Storage(
      { endpoint, bucket: 'any', region: 'us-east-1', accessKeyId: 'any', secretAccessKey: 'any', forcePathStyle: true },
      { timeoutMs },
    );
  beforeAll(async () => {
    blackHole = await startBlackHole();
    storage = storageAt(blackHole.endpoint, TIMEOUT_MS);
  });
  afterAll(async () => {
    await storage?.close();
    await blackHole?.stop();
  });

  const calls: Array<{ name: string; call: string; run: (storage: ObjectStorage) => Promise<unknown> }> = [
    { name: 'put', call: 'put "k"', run: (s) => s.put('k', BYTES, OCTETS) },
    { name: 'multipart put', call: 'put "k"', run: (s) => s.put('k', Buffer.alloc(6 * 1024 * 1024), OCTETS) },
    // A file is stored through put: the deadline names that.
    { name: 'putFile', call: 'put "k"', run: async (s) => s.putFile('k', await fileOf(Buffer.alloc(6 * 1024 * 1024)), OCTETS) },
    { name: 'get', call: 'get "k"', run: (s) => s.get('k') },
    { name: 'getBuffer', call: 'getBuffer "k"', run: (s) => s.getBuffer('k') },
    { name: 'head', call: 'head "k"', run: (s) => s.head('k') },
    { name: 'delete', call: 'delete "k"', run: (s) => s.delete('k') },
    { name: 'list', call: 'list "a/"', run: (s) => keysOf(s.list('a/')) },
    { name: 'deletePrefix', call: 'deletePrefix "a/"', run: (s) => s.deletePrefix('a/') },
    { name: 'ping', call: 'ping', run: (s) => s.ping() },
  ];
  it.for(calls)('fails $name with StorageUnavailableError at the deadline, and drops the request', async ({ call, run }) => {
    const started = Date.now();
    const error = await run(storage).catch((caught: unknown) => caught);
    expect(Date.now() - started).toBeLessThan(ANSWERED_WITHIN_MS);
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(error).toMatchObject({ message: `Storage did not answer within ${TIMEOUT_MS} ms (${call})`, httpStatus: 503 });
    // The socket goes too, rather than waiting for the SDK's idle timeout.
    await vi.waitFor(() => expect(blackHole.openConnections()).toBe(0), { timeout: 1_000 });
  });

  it('bounds ping by its own short deadline when the call deadline is long', async () => {
    const patient = storageAt(blackHole.endpoint, 60_000);
    try {
      await expect(patient.ping()).rejects.toThrow('Storage did not answer within 2000 ms (ping)');
    } finally {
      await patient.close();
    }
  });
});

describe('local storage deadline', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'storage-deadline-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fails a put whose body stops sending, leaving neither the object nor its temp file', async () => {
    const storage = createStorage({ driver: 'local', dir, timeoutMs: TIMEOUT_MS });
    const started = Date.now();
    const error = await storage.put('assets/x/original', stalledBody(), OCTETS).catch((caught: unknown) => caught);
    expect(Date.now() - started).toBeLessThan(ANSWERED_WITHIN_MS);
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(error).toMatchObject({ message: `Storage did not answer within ${TIMEOUT_MS} ms (put "assets/x/original")` });
    expect(await storage.head('assets/x/original')).toBeNull();
    await vi.waitFor(async () => expect(await keysOf(storage.list(''))).toEqual([]), { timeout: 1_000 });
  });

  it('fails a stalled put with StorageUnavailableError and publishes nothing', async () => {
    const storage = new FaultyStorage(new LocalStorage(dir), { timeoutMs: TIMEOUT_MS });
    storage.inject({ method: 'put', mode: 'stall' });
    await expect(storage.put('assets/x/original', BYTES, OCTETS)).rejects.toBeInstanceOf(StorageUnavailableError);
    storage.clearAll();
    expect(await storage.head('assets/x/original')).toBeNull();
  });
});

describe.each([
  { driver: 'local' as const },
  { driver: 's3' as const },
])('$driver storage: a stream handed out in time', ({ driver }) => {
  let s3Server: S3TestServer | undefined;
  let dir: string;
  let storage: ObjectStorage;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'storage-deadline-'));
    if (driver === 's3') s3Server = await startS3Server();
    storage = s3Server
      ? new S3Storage(s3ConfigFor(s3Server, await s3Server.createBucket()), { timeoutMs: TIMEOUT_MS })
      : new LocalStorage(dir, { timeoutMs: TIMEOUT_MS });
  });
  afterAll(async () => {
    await storage?.close();
    await s3Server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps flowing past the deadline: it bounds the first byte, not the transfer', async () => {
    await storage.put('slow/reader', BYTES, OCTETS);
    const stream = await storage.get('slow/reader');
    await sleep(TIMEOUT_MS * 2);
    expect(await buffer(stream)).toEqual(BYTES);
  });
});
