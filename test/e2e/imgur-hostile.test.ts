import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, expectNothingLeftBehind, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { pollUntil } from '../support/fault-scenarios';
import { redirectTo, serveBytes, startImageOrigin, type ImageOrigin } from '../support/image-origin';

const PHOTO = readCorpus('photos/DSCN0010.jpg');
/** Small enough to make a too-large image cheap; the photo (161,713 bytes) still fits. */
const MAX_UPLOAD_BYTES = 200_000;

interface Answer {
  status: number;
  body: { data: { error: string; request: string; method: string }; success: boolean; status: number };
}

/** Sends a raw request (any body, chunked when no length is given) and reads Imgur's error envelope. */
function send(
  baseUrl: string,
  body: Buffer | string,
  headers: Record<string, string>,
  options: { chunked?: boolean; path?: string } = {},
): Promise<Answer> {
  const bytes = Buffer.from(body);
  const url = new URL(options.path ?? '/3/image', baseUrl);
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      method: 'POST',
      headers: options.chunked ? headers : { ...headers, 'content-length': String(bytes.length) },
    });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        try {
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Answer['body'] });
        } catch (error) {
          reject(error);
        }
      });
    });
    // The server may answer and close before the whole body is written (a 413): that is the point.
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    if (options.chunked) {
      for (let offset = 0; offset < bytes.length; offset += 16 * 1024) request.write(bytes.subarray(offset, offset + 16 * 1024));
      request.end();
    } else {
      request.end(bytes);
    }
  });
}

const form = (fields: Record<string, string>) => ({
  body: new URLSearchParams(fields).toString(),
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
});
const json = (value: unknown) => ({ body: JSON.stringify(value), headers: { 'content-type': 'application/json' } });

/** A multipart body built by hand, so that anything (a NUL, a truncation) can be put in it. */
function multipart(parts: Array<{ name: string; value: Buffer | string; filename?: string; type?: string }>, close = true) {
  const boundary = 'hostile-boundary-7d3f';
  const chunks = parts.flatMap(({ name, value, filename, type }) => [
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}\r\n` +
        (type ? `Content-Type: ${type}\r\n` : '') +
        '\r\n',
    ),
    Buffer.from(value),
    Buffer.from('\r\n'),
  ]);
  if (close) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

function expectRefused(answer: Answer, status: number, error?: RegExp): void {
  expect(answer.status).toBe(status);
  expect(answer.body).toEqual({
    data: { error: expect.any(String), request: '/3/image', method: 'POST' },
    success: false,
    status,
  });
  if (error) expect(answer.body.data.error).toMatch(error);
}

describe('Imgur uploads: hostile input is answered in the envelope and leaves nothing behind', () => {
  let ctx: TestContext;
  let origin: ImageOrigin;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false, env: { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) } });
    origin = await startImageOrigin({ '/photo.jpg': serveBytes(PHOTO, 'image/jpeg') });
  });
  afterAll(async () => {
    await origin?.stop();
    await ctx?.stop();
  });

  const cases: Array<[string, () => { body: Buffer | string; headers: Record<string, string> }, number, RegExp?]> = [
    ['base64 with a character outside the alphabet', () => form({ image: 'iVBORw0K#GgoAAAANSUhEUg', type: 'base64' }), 400, /"#" at offset 8/],
    ['base64 with data after its padding', () => form({ image: 'QQ==QUFB' }), 400, /after its "=" padding/],
    ['base64 whose last group is one character', () => form({ image: 'QUFBQ' }), 400, /truncated/],
    ['base64 as a multipart text field', () => multipart([{ name: 'image', value: '%%%%' }, { name: 'type', value: 'base64' }]), 400],
    ['a data: URI that is not base64', () => json({ image: 'data:image/png,rawbytes' }), 400, /data: URI/],
    ['an empty image', () => form({ image: '', type: 'base64' }), 400, /empty/],
    ['an empty file part', () => multipart([{ name: 'image', value: '', filename: 'x.jpg', type: 'image/jpeg' }]), 400],
    ['no image at all', () => form({ title: 'nothing' }), 400, /"image" field/],
    ['a NUL in the title', () => multipart([{ name: 'title', value: 'a\u0000b' }, { name: 'image', value: PHOTO, filename: 'p.jpg' }]), 400, /NUL/],
    ['a NUL in a JSON description', () => json({ image: PHOTO.toString('base64'), description: 'x\u0000' }), 400, /NUL/],
    ['invalid UTF-8 in a form title', () => ({ body: 'title=%ff%fe&image=QUFB', headers: form({}).headers }), 400, /UTF-8/],
    ['a malformed percent-escape', () => ({ body: 'image=QU%G1', headers: form({}).headers }), 400, /percent-escape/],
    ['a title as a JSON number', () => json({ image: PHOTO.toString('base64'), title: 5 }), 400, /title/],
    ['an image as a JSON object', () => json({ image: { data: 'QUFB' } }), 400],
    ['a JSON array', () => json([PHOTO.toString('base64')]), 400],
    ['malformed JSON', () => ({ body: '{"image": "QUFB', headers: json({}).headers }), 400],
    ['a type that is not Imgur\'s', () => form({ image: PHOTO.toString('base64'), type: 'binary' }), 400, /type/],
    ['type=url with base64', () => form({ image: PHOTO.toString('base64'), type: 'url' }), 400, /sent as base64/],
    ['a title over 255 characters', () => form({ image: PHOTO.toString('base64'), title: 'x'.repeat(256) }), 400],
    ['a field over 64 KB', () => form({ image: PHOTO.toString('base64'), description: 'x'.repeat(70_000) }), 400],
    ['a truncated multipart body', () => multipart([{ name: 'image', value: PHOTO, filename: 'p.jpg' }], false), 400, /malformed/],
    ['base64 of bytes that are no image', () => form({ image: Buffer.from('<html><script>alert(1)</script></html>').toString('base64') }), 415],
    ['a text/plain body', () => ({ body: PHOTO.toString('base64'), headers: { 'content-type': 'text/plain' } }), 415],
    ['a gzip form body', () => ({ body: gzipSync(form({ image: 'QUFB' }).body), headers: { ...form({}).headers, 'content-encoding': 'gzip' } }), 415],
    ['an image URL on loopback', () => form({ image: 'http://127.0.0.1:9/photo.jpg', type: 'url' }), 400, /public address/],
    ['an image URL naming localhost', () => form({ image: 'http://localhost:9/photo.jpg' }), 400, /loopback/],
    ['an image URL that is not http(s)', () => form({ image: 'ftp://example.com/photo.jpg', type: 'url' }), 400],
    ['an image URL over 2048 characters', () => form({ image: `https://example.com/${'a'.repeat(2100)}`, type: 'url' }), 400, /2048/],
  ];

  it.each(cases)('refuses %s', async (_name, build, status, error) => {
    const { body, headers } = build();
    expectRefused(await send(ctx.url, body, headers), status, error);
  });

  it('refuses a second image', async () => {
    const body = `${new URLSearchParams({ image: PHOTO.toString('base64') })}&image=QUFB`;
    expectRefused(await send(ctx.url, body, form({}).headers), 400, /more/);
  });

  it('never fetches a loopback URL while private addresses are refused', async () => {
    const answer = await send(ctx.url, form({ image: `${origin.url}/photo.jpg`, type: 'url' }).body, form({}).headers);
    expectRefused(answer, 400, /public address/);
    expect(origin.requested).toEqual([]);
  });

  it('refuses a body declared larger than the largest base64 image before reading it', async () => {
    const answer = await new Promise<Answer>((resolve, reject) => {
      const request = httpRequest(new URL('/3/image', ctx.url), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(10 * MAX_UPLOAD_BYTES) },
      });
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }));
      });
      request.on('error', reject);
      request.write('image=');
    });
    expectRefused(answer, 413);
  });

  it('cuts off base64 that decodes past MAX_UPLOAD_BYTES, sent chunked, in each encoding', async () => {
    const tooLarge = Buffer.alloc(MAX_UPLOAD_BYTES + 10_000, 7).toString('base64');
    expectRefused(await send(ctx.url, form({ image: tooLarge }).body, form({}).headers, { chunked: true }), 413, /larger/);
    const part = multipart([{ name: 'image', value: tooLarge }]);
    expectRefused(await send(ctx.url, part.body, part.headers, { chunked: true }), 413, /larger/);
    const file = multipart([{ name: 'image', value: Buffer.alloc(MAX_UPLOAD_BYTES + 1), filename: 'big.jpg' }]);
    expectRefused(await send(ctx.url, file.body, file.headers, { chunked: true }), 413, /larger/);
    expectRefused(await send(ctx.url, json({ image: tooLarge }).body, json({}).headers, { chunked: true }), 413);
  });

  it('cuts off a body larger than any base64 image, however it is encoded', async () => {
    const endless = `image=${'A'.repeat(3 * MAX_UPLOAD_BYTES)}`;
    expectRefused(await send(ctx.url, endless, form({}).headers, { chunked: true }), 413);
  });

  it('left no row, no stored object and no job', async () => {
    await expectNothingLeftBehind(ctx);
  });
});

describe('Imgur url uploads from an address that is allowed: what the URL answers decides', () => {
  let ctx: TestContext;
  let origin: ImageOrigin;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false, env: { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES), WEBHOOK_ALLOW_PRIVATE: 'true' } });
    const huge = Buffer.alloc(MAX_UPLOAD_BYTES + 1, 1);
    origin = await startImageOrigin({
      '/page.html': serveBytes(Buffer.from('<!doctype html><title>not an image</title>'), 'text/html'),
      '/huge.jpg': serveBytes(huge, 'image/jpeg'),
      '/huge-unannounced.jpg': (_req, res) => {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        res.end(huge);
      },
      '/loop': redirectTo('/loop'),
      '/moved': redirectTo('/photo.jpg'),
      '/photo.jpg': serveBytes(PHOTO, 'image/jpeg'),
    });
  });
  afterAll(async () => {
    await origin?.stop();
    await ctx?.stop();
  });

  it.each([
    ['a 404', '/missing.jpg', 400, /answered 404/],
    ['an HTML page', '/page.html', 415, undefined],
    ['a body declared over MAX_UPLOAD_BYTES', '/huge.jpg', 413, undefined],
    ['a body that grows over MAX_UPLOAD_BYTES', '/huge-unannounced.jpg', 413, undefined],
    ['endless redirects', '/loop', 400, /redirected more than/],
  ] as const)('refuses %s', async (_name, urlPath, status, error) => {
    const answer = await send(ctx.url, form({ image: `${origin.url}${urlPath}`, type: 'url' }).body, form({}).headers);
    expectRefused(answer, status, error);
  });

  it('refused everything without leaving anything behind', async () => {
    await expectNothingLeftBehind(ctx);
  });

  it('follows a redirect to the image', async () => {
    const answer = await fetch(`${ctx.url}/3/image`, { method: 'POST', body: new URLSearchParams({ image: `${origin.url}/moved` }) });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ success: true, data: { type: 'image/jpeg', size: PHOTO.length } });
  });
});

describe('Imgur uploads share the native upload limits', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false, env: { RATE_LIMIT_UPLOADS_PER_MINUTE: '2' } });
    // Until its Redis connection is up, a process counts in memory; the shared count is what this test is about.
    await pollUntil('the Redis connection', async () => ctx.services.queues.connection.status === 'ready', 10_000);
  });
  afterAll(async () => ctx?.stop());

  const imgurUpload = (clientId: string) =>
    fetch(`${ctx.url}/3/image`, {
      method: 'POST',
      headers: { Authorization: `Client-ID ${clientId}` },
      body: new URLSearchParams({ image: PHOTO.toString('base64') }),
    });

  it('counts per Client-ID with the RateLimit fields, then answers 429 in the envelope, counted with the native API', async () => {
    const first = await imgurUpload('sharing-client');
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-policy')).toBe('"uploads";q=2;w=60');
    expect(first.headers.get('ratelimit')).toMatch(/^"uploads";r=1;t=\d+$/);

    const native = new FormData();
    native.append('image', new Blob([PHOTO], { type: 'image/jpeg' }), 'p.jpg');
    const second = await fetch(`${ctx.url}/api/v1/images`, { method: 'POST', body: native, headers: { Authorization: 'Client-ID sharing-client' } });
    expect(second.status).toBe(201);
    expect(second.headers.get('ratelimit')).toMatch(/^"uploads";r=0;t=\d+$/);

    const refused = await imgurUpload('sharing-client');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toEqual({
      data: { error: expect.stringMatching(/uploads per minute/), request: '/3/image', method: 'POST' },
      success: false,
      status: 429,
    });

    expect((await imgurUpload('another-client')).status).toBe(200);
  });
});
