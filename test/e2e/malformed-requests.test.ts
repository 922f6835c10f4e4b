import net from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ADMIN, createTestContext, expectNothingLeftBehind, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';

/**
 * Requests as a hostile or broken client sends them, byte for byte (fetch() and http.request() refuse to send most
 * of these): malformed ids and percent-escapes on every route, broken JSON and multipart bodies, odd encodings,
 * headers and methods. None may get a 500; every JSON error has the contract's shape; a rejected upload leaves
 * nothing behind.
 */

const CONTRACT_CODES = [
  'missing_file', 'invalid_request', 'unauthorized', 'forbidden', 'not_found', 'gone', 'conflict', 'file_too_large',
  'unsupported_type', 'invalid_image', 'too_many_pixels', 'unavailable_for_legal_reasons', 'rate_limited', 'unavailable',
];
const ADMIN_AUTH = `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`;
/** A real photo, so an upload refused for its fields would otherwise have been stored. */
const PHOTO = readCorpus('photos/Kodak_CX7530.jpg');
/** A file the probe refuses (422): a well-formed request with it reaches validation and still stores nothing. */
const BROKEN_IMAGE = readCorpus('bad/truncated.jpg');

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

interface RawRequest {
  name: string;
  bytes: Buffer;
  /** The answer the contract gives, when the corpus pins one; otherwise only "no 500, the contract's error shape". */
  status?: number;
  code?: string;
}

type Headers = Record<string, string | Buffer>;

/** One request on its own connection; the server closes it after the answer (`Connection: close`). */
function send(baseUrl: string, bytes: Buffer, timeoutMs = 15_000): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      // The server may answer and close before it has read everything we wrote (EPIPE/ECONNRESET on our side).
      if (chunks.length > 0) resolve(parseResponse(Buffer.concat(chunks)));
      else reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseResponse(Buffer.concat(chunks)));
    });
    // Not end(): a half-closed connection is an aborted request to Node, and the answer would never come.
    socket.write(bytes);
  });
}

function parseResponse(raw: Buffer): RawResponse {
  // An interim answer (100 Continue) comes first: the final one follows.
  while (raw.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 1')) raw = raw.subarray(raw.indexOf('\r\n\r\n') + 4);
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) return { status: 0, headers: {}, body: raw };
  const [statusLine = '', ...lines] = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(headEnd + 4);
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < data.length) {
    const lineEnd = data.indexOf('\r\n', offset);
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!size) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** Raw request bytes; the path and header values are written as given (Buffers byte for byte). */
function request(method: string, path: string | Buffer, headers: Headers = {}, body?: Buffer | string): Buffer {
  const payload = body === undefined ? undefined : Buffer.from(body);
  const all: Headers = { Host: '127.0.0.1', Connection: 'close', ...headers };
  if (payload && !Object.keys(all).some((name) => /^(content-length|transfer-encoding)$/i.test(name))) {
    all['Content-Length'] = String(payload.length);
  }
  const lines = [Buffer.from(`${method} `), Buffer.from(path), Buffer.from(' HTTP/1.1\r\n')];
  for (const [name, value] of Object.entries(all)) lines.push(Buffer.from(`${name}: `), Buffer.from(value), Buffer.from('\r\n'));
  lines.push(Buffer.from('\r\n'));
  if (payload) lines.push(payload);
  return Buffer.concat(lines);
}

interface Part {
  /** Raw header lines of the part (without the trailing blank line). */
  headers: (string | Buffer)[];
  body: Buffer | string;
}

const BOUNDARY = 'abuse-boundary-7MA4YWxkTrZu0gW';

/** A multipart body from raw parts; `close: false` leaves off the closing delimiter (a truncated upload). */
function multipartBody(parts: Part[], options: { close?: boolean; boundary?: string } = {}): Buffer {
  const boundary = options.boundary ?? BOUNDARY;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n`));
    for (const header of part.headers) chunks.push(Buffer.from(header), Buffer.from('\r\n'));
    chunks.push(Buffer.from('\r\n'), Buffer.from(part.body), Buffer.from('\r\n'));
  }
  if (options.close !== false) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

function filePart(file: Buffer, field = 'image'): Part {
  return { headers: [`Content-Disposition: form-data; name="${field}"; filename="photo.jpg"`, 'Content-Type: image/jpeg'], body: file };
}

function fieldPart(name: string, value: Buffer | string): Part {
  return { headers: [`Content-Disposition: form-data; name="${name}"`], body: value };
}

function upload(parts: Part[], options: { close?: boolean; contentType?: string; headers?: Headers } = {}): Buffer {
  return request(
    'POST',
    '/api/v1/images',
    { 'Content-Type': options.contentType ?? `multipart/form-data; boundary=${BOUNDARY}`, ...options.headers },
    multipartBody(parts, options),
  );
}

function json(method: string, path: string, body: Buffer | string, headers: Headers = {}): Buffer {
  return request(method, path, { 'Content-Type': 'application/json', ...headers }, body);
}

/** Ids as they appear in a URL path: malformed escapes, NUL, bad UTF-8, outside the alphabet, far too long. */
const BAD_IDS = [
  '%00', 'AAAAAA%00', 'AAAAAAA%00', '%ff', 'AAAAAA%FF', '%', 'AAAAAA%', '%zz', '%c3%28', '%e2%82', '%ed%a0%80',
  '%F0%9F%92%A9AAAAA', '..%2f..%2fetc', 'AAAAAA!', 'A'.repeat(300), '%u0000',
];

/** Every route that takes an id: [method, path for an id, headers, body]. */
const ID_ROUTES: [method: string, path: (id: string) => string, headers?: Headers, body?: string][] = [
  ['GET', (id) => `/api/v1/images/${id}`],
  ['DELETE', (id) => `/api/v1/images/${id}`, { 'X-Delete-Token': 'x' }],
  ['POST', (id) => `/api/v1/images/${id}/retry`, { 'X-Delete-Token': 'x' }],
  ['GET', (id) => `/api/v1/images/${id}/similar`],
  ['GET', (id) => `/api/v1/images/${id}/metadata`, { 'X-Delete-Token': 'x' }],
  ['GET', (id) => `/api/v1/images/${id}/deliveries`, { Authorization: ADMIN_AUTH }],
  ['GET', (id) => `/api/v1/images/${id}/events`],
  [
    'POST',
    (id) => `/api/v1/admin/images/${id}/moderation`,
    { Authorization: ADMIN_AUTH, 'Content-Type': 'application/json' },
    '{"verdict":"allow"}',
  ],
  ['DELETE', (id) => `/api/v1/admin/blocklist/${id}`, { Authorization: ADMIN_AUTH }],
  ['GET', (id) => `/i/${id}.jpg`],
  ['HEAD', (id) => `/i/${id}.jpg`],
  ['GET', (id) => `/i/${id}/m.webp`],
];

function idCorpus(): RawRequest[] {
  return ID_ROUTES.flatMap(([method, path, headers, body]) =>
    BAD_IDS.map((id) => ({
      name: `${method} ${path(id)}`,
      bytes: request(method, path(id), headers, body),
      status: 404,
      code: method === 'HEAD' ? undefined : 'not_found',
    })),
  );
}

/** JSON routes, before and after admin auth, and routes that take no body at all. */
const JSON_TARGETS: [method: string, path: string, headers?: Headers][] = [
  ['POST', '/api/v1/admin/blocklist', { Authorization: ADMIN_AUTH }],
  ['POST', '/api/v1/admin/blocklist'],
  ['POST', '/api/v1/admin/images/AAAAAAA/moderation', { Authorization: ADMIN_AUTH }],
  ['POST', '/healthz'],
  ['GET', '/healthz'],
  ['POST', '/api/v1/images/AAAAAAA/retry'],
  ['GET', '/i/AAAAAAA.jpg'],
];

function jsonCorpus(): RawRequest[] {
  const oversized = JSON.stringify({ reason: 'x'.repeat(70 * 1024) });
  const bomb = gzipSync(Buffer.from(`{"reason":"${'0'.repeat(2 * 1024 * 1024)}"}`));
  const bodies: [name: string, body: Buffer | string, headers: Headers, status?: number][] = [
    ['bad JSON', '{"verdict":', {}, 400],
    ['a JSON string, not an object', '"allow"', {}, 400],
    ['JSON over 64 KB', oversized, {}, 413],
    ['a gzip bomb inflating past 64 KB', bomb, { 'Content-Encoding': 'gzip' }, 413],
    ['Content-Encoding: br, not brotli', 'definitely not brotli', { 'Content-Encoding': 'br' }, 400],
    ['Content-Encoding: gzip, not gzip', '{"verdict":"allow"}', { 'Content-Encoding': 'gzip' }, 400],
    ['a truncated gzip', gzipSync('{"phash":"0123456789abcdef"}').subarray(0, 12), { 'Content-Encoding': 'gzip' }, 400],
    ['Content-Encoding: compress', '{}', { 'Content-Encoding': 'compress' }, 415],
    ['Content-Encoding: gzip, gzip, br', '{}', { 'Content-Encoding': 'gzip, gzip, br' }, 415],
    ['charset=latin1', '{}', { 'Content-Type': 'application/json; charset=latin1' }, 415],
    ['charset=bogus', '{}', { 'Content-Type': 'application/json; charset=bogus' }, 415],
    ['bad UTF-8 in a string', Buffer.concat([Buffer.from('{"reason":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]), {}, 400],
    ['a NUL in a string', '{"reason":"a\\u0000b"}', {}, 400],
    ['a NUL in a key', '{"rea\\u0000son":"x"}', {}, 400],
    ['a raw NUL byte', Buffer.from('{"reason":"a\u0000b"}'), {}, 400],
    ['deeply nested JSON', `${'['.repeat(5000)}${']'.repeat(5000)}`, {}],
    ['a brotli body', brotliCompressSync('{"verdict":"allow"}'), { 'Content-Encoding': 'br' }],
    ['an empty body', '', {}],
    ['Content-Type: application/json; but text', 'hello', { 'Content-Type': 'text/plain' }],
  ];
  return JSON_TARGETS.flatMap(([method, path, headers]) =>
    bodies.map(([name, body, extra, status]) => ({
      name: `${method} ${path} ${headers?.Authorization ? '(admin) ' : ''}with ${name}`,
      bytes: json(method, path, body, { ...headers, ...extra }),
      // Unauthenticated admin routes may also answer 401 once the body is read; /i/ may answer 404 once it is.
      status: method === 'POST' && path.includes('admin') && !headers?.Authorization ? undefined : status,
    })),
  );
}

function multipartCorpus(): RawRequest[] {
  const photo = filePart(PHOTO);
  const formData = { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` };
  const badFileName = Buffer.concat([
    Buffer.from('Content-Disposition: form-data; name="image"; filename="'),
    Buffer.from([0xff, 0xfe]),
    Buffer.from('.jpg"'),
  ]);
  const cases: [name: string, bytes: Buffer, status?: number, code?: string][] = [
    ['multipart/mixed', upload([photo], { contentType: `multipart/mixed; boundary=${BOUNDARY}` }), 400, 'invalid_request'],
    ['multipart/form-data without a boundary', upload([photo], { contentType: 'multipart/form-data' }), 400, 'invalid_request'],
    ['an empty boundary', upload([photo], { contentType: 'multipart/form-data; boundary=' }), 400],
    ['a malformed Content-Type', upload([photo], { contentType: 'multipart/form-data; boundary="unterminated' }), 400],
    ['a part header without a colon', upload([{ headers: ['Content-Disposition form-data; name="image"'], body: PHOTO }]), 400, 'invalid_request'],
    ['a 20 KB part header', upload([{ headers: [`X-Padding: ${'a'.repeat(20 * 1024)}`, ...photo.headers], body: PHOTO }]), 400, 'invalid_request'],
    ['a body cut off mid-file', request('POST', '/api/v1/images', formData, multipartBody([photo]).subarray(0, -2000)), 400, 'invalid_request'],
    ['no closing delimiter', upload([photo], { close: false }), 400, 'invalid_request'],
    ['a body that is not multipart at all', request('POST', '/api/v1/images', formData, 'hello'), 400],
    ['an empty body', request('POST', '/api/v1/images', formData, ''), 400],
    ['text/plain', request('POST', '/api/v1/images', { 'Content-Type': 'text/plain' }, PHOTO), 400, 'missing_file'],
    ['no Content-Type', request('POST', '/api/v1/images', {}, PHOTO), 400, 'missing_file'],
    ['a JSON body', json('POST', '/api/v1/images', '{"image":"aGVsbG8="}'), 400, 'missing_file'],
    ['a bad JSON body', json('POST', '/api/v1/images', '{"image":'), 400, 'invalid_request'],
    ['form-urlencoded', request('POST', '/api/v1/images', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'image=x&title=%00'), 400],
    ['gzip-encoded multipart', upload([filePart(BROKEN_IMAGE)], { headers: { 'Content-Encoding': 'gzip' } })],
    ['the file in another field', upload([filePart(PHOTO, 'file')]), 400, 'invalid_request'],
    ['two files', upload([photo, photo]), 400, 'invalid_request'],
    ['a part without a name', upload([{ headers: ['Content-Disposition: form-data'], body: 'x' }, photo]), 400],
    ['a part without Content-Disposition', upload([{ headers: ['Content-Type: text/plain'], body: 'x' }, filePart(BROKEN_IMAGE)]), 422],
    ['eleven fields', upload([...Array.from({ length: 11 }, (_, i) => fieldPart(`f${i}`, 'x')), photo]), 400, 'invalid_request'],
    ['a 70 KB field', upload([fieldPart('title', 'x'.repeat(70 * 1024)), photo]), 400, 'invalid_request'],
    ['a title over 255 characters', upload([fieldPart('title', 'x'.repeat(256)), photo]), 400, 'invalid_request'],
    ['a NUL in title', upload([fieldPart('title', 'a\u0000b'), photo]), 400, 'invalid_request'],
    ['bad UTF-8 in title', upload([fieldPart('title', Buffer.from([0x61, 0xff, 0xfe, 0x62])), photo]), 400, 'invalid_request'],
    ['an overlong UTF-8 NUL in title', upload([fieldPart('title', Buffer.from([0x61, 0xc0, 0x80])), photo]), 400, 'invalid_request'],
    ['a lone surrogate in title', upload([fieldPart('title', Buffer.from([0xed, 0xa0, 0x80])), photo]), 400, 'invalid_request'],
    ['a NUL in callback_url', upload([fieldPart('callback_url', 'https://example.com/\u0000'), photo]), 400, 'invalid_request'],
    ['bad UTF-8 in callback_url', upload([fieldPart('callback_url', Buffer.from([0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f, 0xff])), photo]), 400, 'invalid_request'],
    ['a NUL in a field name', upload([fieldPart('ti\u0000tle', 'x'), filePart(BROKEN_IMAGE)])],
    ['a NUL in the file name', upload([{ headers: ['Content-Disposition: form-data; name="image"; filename="a\u0000.jpg"'], body: BROKEN_IMAGE }]), 400],
    ['bad UTF-8 in the file name', upload([{ headers: [badFileName], body: BROKEN_IMAGE }]), 422],
    ['an empty file', upload([filePart(Buffer.alloc(0))]), 400, 'missing_file'],
    ['a field named like an array index', upload([fieldPart('title[99999999]', 'x'), filePart(BROKEN_IMAGE)])],
    ['Content-Length shorter than the body', request('POST', '/api/v1/images', { ...formData, 'Content-Length': '100' }, multipartBody([photo])), 400],
  ];
  // Every case is refused: those that would pass every check carry a file the probe refuses (422).
  return cases.map(([name, bytes, status, code]) => ({ name: `upload with ${name}`, bytes, status, code }));
}

function miscCorpus(): RawRequest[] {
  const badUtf8Credentials = `Basic ${Buffer.from([0xff, 0x3a, 0xfe]).toString('base64')}`;
  const chunkedJson = { 'Transfer-Encoding': 'chunked', 'Content-Type': 'application/json', Authorization: ADMIN_AUTH };
  const cases: [name: string, bytes: Buffer, status?: number][] = [
    ['a header near the 16 KB limit', request('GET', '/healthz', { Cookie: `a=${'b'.repeat(15 * 1024)}` }), 200],
    ['headers over the 16 KB limit', request('GET', '/healthz', { Cookie: `a=${'b'.repeat(17 * 1024)}` }), 431],
    ['a raw NUL in the path', request('GET', Buffer.from('/api/v1/images/AAA\u0000AAA')), 400],
    ['a space in the path', request('GET', '/api/v1/images/AAA AAA'), 400],
    ['a raw 0xff in the path', request('GET', Buffer.concat([Buffer.from('/i/'), Buffer.from([0xff]), Buffer.from('.jpg')]))],
    ['a bad escape in the root path', request('GET', '/%ff'), 404],
    ['a lone % in the root path', request('GET', '/%'), 404],
    ['a bad escape in an upload page path', request('GET', '/index.html%ff'), 404],
    ['a bad escape under /api/v1', request('GET', '/api/v1/%ff/x'), 404],
    ['an empty id', request('GET', '/api/v1/images/'), 404],
    ['a doubled slash', request('GET', '/api/v1/images//similar'), 404],
    ['a long path', request('GET', `/api/v1/images/${'a/'.repeat(4000)}`), 404],
    ['a bad max_distance', request('GET', '/api/v1/images/AAAAAAA/similar?max_distance=%ff'), 400],
    // The simple query parser reads `max_distance[]` as another name: the default distance, an unknown image.
    ['an array max_distance', request('GET', '/api/v1/images/AAAAAAA/similar?max_distance[]=1&max_distance[]=2'), 404],
    ['a NUL in the query', request('GET', '/api/v1/images/AAAAAAA?x=%00&y=%'), 404],
    ['a lone % in the query', request('GET', '/i/AAAAAAA.jpg?%'), 404],
    ['a bad escape in the size', request('GET', '/i/AAAAAAA/%ff.webp'), 404],
    ['a bad escape in the extension', request('GET', '/i/AAAAAAA.%ff'), 404],
    ['a NUL in the format', request('GET', '/i/AAAAAAA/m.%00'), 404],
    // The credentials are checked first, by a layer mounted before the route that decodes the id.
    ['a bad escape in a blocklist id, without credentials', request('DELETE', '/api/v1/admin/blocklist/%ff'), 401],
    ['a NUL blocklist id, without credentials', request('DELETE', '/api/v1/admin/blocklist/%00'), 401],
    ['a bad escape under /admin/queues', request('GET', '/admin/queues/%ff', { Authorization: ADMIN_AUTH })],
    ['a bad escape under /admin/queues without credentials', request('GET', '/admin/queues/%ff'), 401],
    ['bull board API with a bad queue name', request('GET', '/admin/queues/api/queues/%00', { Authorization: ADMIN_AUTH })],
    ['Authorization with bad base64', request('GET', '/api/v1/admin/blocklist', { Authorization: 'Basic %%%%' }), 401],
    ['Authorization with bad UTF-8', request('GET', '/api/v1/admin/blocklist', { Authorization: badUtf8Credentials }), 401],
    ['Authorization with a NUL', request('GET', '/api/v1/admin/blocklist', { Authorization: `Basic ${Buffer.from('admin\u0000:x').toString('base64')}` }), 401],
    ['Authorization with raw 0xff bytes', request('GET', '/api/v1/admin/blocklist', { Authorization: Buffer.from([0x42, 0xff, 0xfe]) }), 401],
    ['an X-Delete-Token with raw 0xff bytes', request('DELETE', '/api/v1/images/AAAAAAA', { 'X-Delete-Token': Buffer.from([0xff, 0xfe]) }), 404],
    ['a garbage Range', request('GET', '/i/AAAAAAA.jpg', { Range: 'bytes=%%%-,,,' }), 404],
    ['a garbage If-None-Match', request('GET', '/i/AAAAAAA.jpg', { 'If-None-Match': '\u0001\u0002' }), 400],
    ['a Last-Event-ID with raw bytes', request('GET', '/api/v1/images/AAAAAAA/events', { 'Last-Event-ID': Buffer.from([0xff, 0x00]) }), 400],
    ['a non-numeric Content-Length', request('POST', '/api/v1/admin/blocklist', { 'Content-Length': 'abc' }, '{}'), 400],
    ['Content-Length and Transfer-Encoding', request('POST', '/healthz', { 'Content-Length': '2', 'Transfer-Encoding': 'chunked' }, '0\r\n\r\n'), 400],
    ['a bad chunk size', request('POST', '/healthz', { 'Transfer-Encoding': 'chunked', 'Content-Type': 'application/json' }, 'zz\r\n{}\r\n0\r\n\r\n'), 400],
    ['a chunked JSON body', request('POST', '/api/v1/admin/blocklist', chunkedJson, '2\r\n{}\r\n0\r\n\r\n'), 400],
    ['Expect: 100-continue on an upload', upload([filePart(BROKEN_IMAGE)], { headers: { Expect: '100-continue' } })],
    ['HTTP/1.0', Buffer.from('GET /api/v1/images/%ff HTTP/1.0\r\n\r\n'), 404],
    ['HTTP/9.9', Buffer.from('GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n')],
    ['no Host header', Buffer.from('GET /api/v1/images/%00 HTTP/1.1\r\nConnection: close\r\n\r\n'), 400],
    ['an absolute-form target', request('GET', 'http://evil.example/api/v1/images/%ff'), 404],
    ['an asterisk target', request('OPTIONS', '*')],
    ['garbage instead of HTTP', Buffer.from('\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003'), 400],
    ['a bare LF request', Buffer.from('GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n')],
    ['HEAD /healthz', request('HEAD', '/healthz'), 200],
    ['HEAD an unknown route', request('HEAD', '/nope%ff'), 404],
    ['OPTIONS an upload', request('OPTIONS', '/api/v1/images')],
    ['OPTIONS an image', request('OPTIONS', '/i/AAAAAAA.jpg')],
    ['OPTIONS a malformed id', request('OPTIONS', '/api/v1/images/%ff')],
    ['PUT an upload', request('PUT', '/api/v1/images', { 'Content-Type': 'application/json' }, '{}'), 404],
    ['PATCH an image', request('PATCH', '/api/v1/images/AAAAAAA', { 'Content-Type': 'application/json' }, '{"title":"\\u0000"}'), 400],
    ['PROPFIND', request('PROPFIND', '/api/v1/images/%ff'), 404],
    ['TRACE', request('TRACE', '/healthz'), 404],
    ['an unknown method', request('BREW', '/healthz'), 400],
    ['a lower-case method', request('get', '/healthz'), 400],
  ];
  return cases.map(([name, bytes, status]) => ({ name, bytes, status }));
}

/** Node's own HTTP parser answers a request it cannot parse before express sees it: a bare status, no JSON. */
function isNodeParserAnswer(response: RawResponse): boolean {
  return [400, 413, 414, 431, 505].includes(response.status) && !response.headers['content-type'];
}

function expectContractAnswer(item: RawRequest, response: RawResponse): void {
  const label = `${item.name}: ${response.status} ${response.body.toString('utf8').slice(0, 300)}`;
  expect.soft(response.status, label).toBeGreaterThanOrEqual(200);
  expect.soft(response.status, label).toBeLessThan(500);
  if (item.status !== undefined) expect.soft(response.status, label).toBe(item.status);
  const isJson = response.headers['content-type']?.startsWith('application/json');
  if (response.status >= 400 && !isNodeParserAnswer(response) && response.body.length > 0) {
    expect.soft(isJson, label).toBe(true);
    const body = JSON.parse(response.body.toString('utf8')) as { error: { code: string; message: string } };
    expect.soft(Object.keys(body), label).toEqual(['error']);
    expect.soft(CONTRACT_CODES, label).toContain(body.error.code);
    expect.soft(body.error.message, label).toEqual(expect.any(String));
    if (item.code) expect.soft(body.error.code, label).toBe(item.code);
  }
}

async function sendAll(baseUrl: string, corpus: RawRequest[], concurrency = 8): Promise<[RawRequest, RawResponse][]> {
  const answers: [RawRequest, RawResponse][] = [];
  for (let i = 0; i < corpus.length; i += concurrency) {
    const batch = corpus.slice(i, i + concurrency);
    answers.push(...(await Promise.all(batch.map(async (item) => [item, await send(baseUrl, item.bytes)] as [RawRequest, RawResponse]))));
  }
  return answers;
}

function expectCdnErrorHeaders(label: string, response: RawResponse): void {
  expect(response.headers['x-content-type-options'], label).toBe('nosniff');
  expect(response.headers['content-security-policy'], label).toBe("default-src 'none'; sandbox");
  expect(response.headers['cache-control'], label).toMatch(/max-age=(\d|[1-5]\d|60)\b/);
}

describe('malformed requests', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false, env: { RATE_LIMIT_UPLOADS_PER_MINUTE: '0' } });
  });
  afterAll(async () => ctx?.stop());

  it('never answer 500, over a generated corpus of every route and body', async () => {
    const corpus = [...idCorpus(), ...jsonCorpus(), ...multipartCorpus(), ...miscCorpus()];
    expect(corpus.length).toBeGreaterThan(300);
    const answers = await sendAll(ctx.url, corpus);
    const failures = answers.filter(([, response]) => response.status >= 500 || response.status < 200);
    expect(failures.map(([item, response]) => `${item.name} -> ${response.status}`)).toEqual([]);
    for (const [item, response] of answers) {
      expectContractAnswer(item, response);
      if (item.status === 404 && /^(GET|HEAD) \/i\//.test(item.name)) expectCdnErrorHeaders(item.name, response);
    }
    await expectNothingLeftBehind(ctx);
  });

  describe('F1: text fields are checked before anything is stored', () => {
    it.each([
      ['a NUL in title', fieldPart('title', 'holiday\u0000photo')],
      ['a NUL in callback_url', fieldPart('callback_url', 'https://example.com/hook\u0000')],
      ['invalid UTF-8 in title', fieldPart('title', Buffer.from([0x68, 0x6f, 0xff, 0x6c, 0xc3]))],
    ])('%s: 400 invalid_request, nothing stored', async (_name, part) => {
      const response = await send(ctx.url, upload([part, filePart(PHOTO)]));
      expect(response.status, response.body.toString()).toBe(400);
      const body = JSON.parse(response.body.toString()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.message).toMatch(/^Expected (title|callback_url) (without NUL bytes|as valid UTF-8)/);
      await expectNothingLeftBehind(ctx);
    });

    it('a well-formed request from the same builder reaches image validation (the control)', async () => {
      const response = await send(ctx.url, upload([fieldPart('title', 'holiday photo ünïcödé'), filePart(BROKEN_IMAGE)]));
      expect(response.status, response.body.toString()).toBe(422);
      await expectNothingLeftBehind(ctx);
    });
  });

  describe('F2: malformed ids are 404, malformed admin fields 400', () => {
    const routes = ['/api/v1/images/{id}', '/api/v1/images/{id}/similar', '/api/v1/images/{id}/events', '/i/{id}.jpg', '/i/{id}/m.webp'];
    it.each(['%00', '%ff', '%'])('%s in an id: 404 not_found on every route, the CDN headers on /i/', async (id) => {
      for (const route of routes) {
        const path = route.replace('{id}', id);
        const response = await send(ctx.url, request('GET', path));
        expect(response.status, path).toBe(404);
        expect(JSON.parse(response.body.toString()), path).toMatchObject({ error: { code: 'not_found' } });
        if (path.startsWith('/i/')) expectCdnErrorHeaders(path, response);
      }
    });

    it.each([
      ['/api/v1/admin/images/AAAAAAA/moderation', '{"verdict":"reject","reason":"spam\\u0000"}'],
      ['/api/v1/admin/blocklist', '{"image_id":"AAAA\\u0000AA"}'],
      ['/api/v1/admin/blocklist', '{"phash":"0123456789abcdef","reason":"\\u0000"}'],
    ])('a NUL in an admin body field (%s): 400 invalid_request', async (path, body) => {
      const response = await send(ctx.url, json('POST', path, body, { Authorization: ADMIN_AUTH }));
      expect(response.status, response.body.toString()).toBe(400);
      expect(JSON.parse(response.body.toString())).toMatchObject({ error: { code: 'invalid_request' } });
      const listed = await send(ctx.url, request('GET', '/api/v1/admin/blocklist', { Authorization: ADMIN_AUTH }));
      expect(JSON.parse(listed.body.toString())).toEqual({ items: [] });
    });
  });

  describe('F3: malformed multipart is 400', () => {
    it.each([
      ['multipart/mixed', upload([filePart(PHOTO)], { contentType: `multipart/mixed; boundary=${BOUNDARY}` })],
      ['a part header without a colon', upload([{ headers: ['Content-Disposition form-data; name="image"'], body: PHOTO }])],
      ['a 20 KB part header', upload([{ headers: [`X-Padding: ${'a'.repeat(20 * 1024)}`, ...filePart(PHOTO).headers], body: PHOTO }])],
      ['an unexpected end', upload([filePart(PHOTO)], { close: false })],
    ])('%s: 400 invalid_request, nothing stored', async (_name, bytes) => {
      const response = await send(ctx.url, bytes);
      expect(response.status, response.body.toString()).toBe(400);
      expect(JSON.parse(response.body.toString())).toMatchObject({ error: { code: 'invalid_request' } });
      await expectNothingLeftBehind(ctx);
    });
  });

  describe('F4: bodies the JSON parser refuses are 4xx on any route, before admin auth', () => {
    const oversized = JSON.stringify({ reason: 'x'.repeat(70 * 1024) });
    it.each(['/healthz', '/api/v1/admin/blocklist', '/api/v1/images/AAAAAAA/retry'])('%s', async (path) => {
      const cases: [Buffer | string, Headers, number][] = [
        [oversized, {}, 413],
        ['not brotli', { 'Content-Encoding': 'br' }, 400],
        ['not gzip', { 'Content-Encoding': 'gzip' }, 400],
        ['{}', { 'Content-Encoding': 'compress' }, 415],
      ];
      for (const [body, headers, status] of cases) {
        const response = await send(ctx.url, json('POST', path, body, headers));
        expect(response.status, `${path} ${JSON.stringify(headers)}`).toBe(status);
        const answer = JSON.parse(response.body.toString()) as { error: { code: string } };
        expect(answer.error.code).toBe(status === 415 ? 'unsupported_type' : 'invalid_request');
      }
    });
  });
  describe('client aborts', () => {
    /** Sends the first `sent` bytes of a request, then drops the connection, as a cancelled upload does. */
    async function abortAfter(bytes: Buffer, sent: number): Promise<void> {
      const { hostname, port } = new URL(ctx.url);
      const socket = net.connect(Number(port), hostname);
      await new Promise<void>((resolve) => socket.write(bytes.subarray(0, sent), () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 100));
      socket.destroy();
    }

    it('are logged at debug, never as an unhandled error, and leave nothing behind', async () => {
      const logger = ctx.services.logger;
      const spies = { error: vi.spyOn(logger, 'error'), warn: vi.spyOn(logger, 'warn'), debug: vi.spyOn(logger, 'debug') };
      try {
        const uploadBytes = upload([fieldPart('title', 'cancelled'), filePart(PHOTO)]);
        await abortAfter(uploadBytes, uploadBytes.length - 1000);
        const jsonBytes = json('POST', '/api/v1/admin/blocklist', JSON.stringify({ reason: 'x'.repeat(10_000) }), { Authorization: ADMIN_AUTH });
        await abortAfter(jsonBytes, jsonBytes.length - 1000);
        await vi.waitFor(() => expect(spies.debug).toHaveBeenCalledTimes(2), { timeout: 5000 });
        for (const [, message] of spies.debug.mock.calls) expect(message).toBe('client went away before the answer');
        expect(spies.error).not.toHaveBeenCalled();
        expect(spies.warn).not.toHaveBeenCalled();
        await expectNothingLeftBehind(ctx);
      } finally {
        for (const spy of Object.values(spies)) spy.mockRestore();
      }
    });
  });
});
