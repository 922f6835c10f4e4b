import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import express, { type ErrorRequestHandler } from 'express';
import pino from 'pino';
import { pinoHttp } from 'pino-http';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServedImage } from '@renditions/pipeline';
import type { ObjectStorage } from '@renditions/storage';
import { ifNoneMatchHits, ifRangeHolds, sendImage } from '../src/middleware/send-image';

describe('ifNoneMatchHits', () => {
  const etag = '"abc"';
  it('matches the same tag, in a list, weak or strong, and *', () => {
    expect(ifNoneMatchHits('"abc"', etag)).toBe(true);
    expect(ifNoneMatchHits('"x", "abc"', etag)).toBe(true);
    expect(ifNoneMatchHits('W/"abc"', etag)).toBe(true);
    expect(ifNoneMatchHits('*', etag)).toBe(true);
  });
  it('does not match other tags or an absent header', () => {
    expect(ifNoneMatchHits(undefined, etag)).toBe(false);
    expect(ifNoneMatchHits('"abd"', etag)).toBe(false);
    expect(ifNoneMatchHits('abc', etag)).toBe(false);
  });
});

describe('ifRangeHolds (RFC 9110 §13.1.5)', () => {
  const etag = '"abc"';
  it('holds without If-Range, and for the same strong tag', () => {
    expect(ifRangeHolds(undefined, etag)).toBe(true);
    expect(ifRangeHolds('"abc"', etag)).toBe(true);
    expect(ifRangeHolds(' "abc" ', etag)).toBe(true);
  });
  it('fails for another tag, a weak tag (strong comparison), a list, and any HTTP-date', () => {
    expect(ifRangeHolds('"abd"', etag)).toBe(false);
    expect(ifRangeHolds('W/"abc"', etag)).toBe(false);
    expect(ifRangeHolds('"x", "abc"', etag)).toBe(false);
    expect(ifRangeHolds('Sat, 21 Nov 2026 10:00:00 GMT', etag)).toBe(false);
    expect(ifRangeHolds('', etag)).toBe(false);
  });
});

interface Harness {
  url: string;
  errors: unknown[];
  logs: { level: number; msg: string }[];
}

const servers: { close(): void; closeAllConnections(): void }[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

/** One route that answers with sendImage, behind pino-http (as in the API), recording errors and log lines. */
async function serve(served: ServedImage, storage: Partial<ObjectStorage> = {}): Promise<Harness> {
  const errors: unknown[] = [];
  const logs: Harness['logs'] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const app = express();
  app.use(pinoHttp({ logger }));
  app.get('/img', (req, res) => sendImage(req, res, served, storage as ObjectStorage));
  const recordErrors: ErrorRequestHandler = (error, _req, res, _next) => {
    errors.push(error);
    if (!res.headersSent) res.status(500).end();
    else res.destroy();
  };
  app.use(recordErrors);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/img`, errors, logs };
}

const BYTES = Buffer.from('0123456789abcdef');
const bufferImage: ServedImage = {
  body: { kind: 'buffer', data: BYTES },
  etag: '"v2"',
  contentType: 'image/webp',
  cacheControl: 'public, max-age=60',
};

describe('sendImage with Range and If-Range', () => {
  it('gives the range only while the validator strongly matches; otherwise the whole 200', async () => {
    const { url } = await serve(bufferImage);
    const get = async (headers: Record<string, string>) => {
      const response = await fetch(url, { headers });
      return { status: response.status, range: response.headers.get('content-range'), body: Buffer.from(await response.arrayBuffer()) };
    };

    expect(await get({ Range: 'bytes=4-7' })).toEqual({ status: 206, range: 'bytes 4-7/16', body: BYTES.subarray(4, 8) });
    expect(await get({ Range: 'bytes=4-7', 'If-Range': '"v2"' })).toEqual({ status: 206, range: 'bytes 4-7/16', body: BYTES.subarray(4, 8) });
    // The client holds an older representation: splicing would corrupt its file, so it gets this one whole.
    for (const ifRange of ['"v1"', 'W/"v2"', 'Sat, 21 Nov 2026 10:00:00 GMT']) {
      expect(await get({ Range: 'bytes=4-7', 'If-Range': ifRange }), ifRange).toEqual({ status: 200, range: null, body: BYTES });
    }
    // A failed If-Range means the Range is ignored altogether: a range past the end is no 416 then.
    expect(await get({ Range: 'bytes=100-', 'If-Range': '"v1"' })).toMatchObject({ status: 200, body: BYTES });
    expect((await get({ Range: 'bytes=100-' })).status).toBe(416);
  });
});

describe('sendImage when the client goes away mid-download', () => {
  /** A stored object that sends one chunk and then waits, like a large file on slow storage. */
  function stalledObject() {
    const source = new Readable({ read() {} });
    source.push(Buffer.alloc(64 * 1024, 1));
    const served: ServedImage = { ...bufferImage, body: { kind: 'stored', key: 'k', size: 10 * 1024 * 1024 } };
    return { source, served, storage: { get: async () => source } };
  }

  /** Reads the first bytes of the answer, then closes the connection, as a cancelled download does. */
  function abortAfterFirstBytes(url: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(url, (response) => {
        response.once('data', () => {
          request.destroy();
          resolve();
        });
      });
      request.on('error', (error) => ((error as { code?: string }).code === 'ECONNRESET' ? undefined : reject(error)));
      request.end();
    });
  }

  it('is no error: logged at debug, and the storage stream is released', async () => {
    const { source, served, storage } = stalledObject();
    const harness = await serve(served, storage);
    await abortAfterFirstBytes(harness.url);

    await expect.poll(() => harness.logs.some((line) => line.msg === 'client closed the connection mid-download')).toBe(true);
    const line = harness.logs.find((entry) => entry.msg === 'client closed the connection mid-download')!;
    expect(line.level).toBe(pino.levels.values.debug);
    expect(harness.errors).toEqual([]);
    expect(harness.logs.filter((entry) => entry.level >= pino.levels.values.error!)).toEqual([]);
    expect(source.destroyed).toBe(true);
  });

  it('still passes a storage failure mid-stream on to the error handler', async () => {
    const { source, served, storage } = stalledObject();
    const harness = await serve(served, storage);
    const answered = fetch(harness.url).then((response) => response.arrayBuffer()).catch(() => undefined);
    await expect.poll(() => source.listenerCount('data') > 0 || source.readableFlowing === true).toBe(true);
    source.destroy(Object.assign(new Error('storage read failed'), { code: 'EIO' }));
    await answered;

    await expect.poll(() => harness.errors.length).toBe(1);
    expect((harness.errors[0] as Error).message).toBe('storage read failed');
  });
});
