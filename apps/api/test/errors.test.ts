import type { AddressInfo } from 'node:net';
import express, { type Request } from 'express';
import multer from 'multer';
import { describe, expect, it } from 'vitest';
import {
  FileTooLargeError,
  GoneError,
  RateLimitedError,
  InvalidRequestError,
  NotFoundError,
  RequestRefusedError,
  UnavailableError,
  UnsupportedTypeError,
} from '@renditions/errors';
import { createLogger } from '@renditions/observability';
import { isClientAbort } from '../src/middleware/client-abort';
import { errorHandler, toAppError } from '../src/middleware/errors';

/** What http-errors (body-parser, raw-body) raises: equal numeric `status` and `statusCode`, and a `type`. */
function httpError(status: number, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { status, statusCode: status, expose: status < 500, ...extra });
}

function answer(error: unknown) {
  const mapped = toAppError(error);
  return mapped && { status: mapped.httpStatus, code: mapped.code, type: mapped.constructor };
}

describe('toAppError', () => {
  it('keeps our own errors as they are', () => {
    const error = new InvalidRequestError('x');
    expect(toAppError(error)).toBe(error);
  });

  it('maps multer errors by code', () => {
    expect(answer(new multer.MulterError('LIMIT_FILE_SIZE', 'image'))).toEqual({ status: 413, code: 'file_too_large', type: FileTooLargeError });
    for (const code of ['LIMIT_UNEXPECTED_FILE', 'LIMIT_PART_COUNT', 'LIMIT_FIELD_VALUE', 'MISSING_FIELD_NAME', 'LIMIT_FIELD_COUNT'] as const) {
      expect(answer(new multer.MulterError(code, 'f')), code).toEqual({ status: 400, code: 'invalid_request', type: InvalidRequestError });
    }
    expect(toAppError(new multer.MulterError('LIMIT_UNEXPECTED_FILE', 'file'))?.message).toBe(
      'Unexpected file field "file"; send the file in the "image" field',
    );
  });

  it('maps a path parameter express could not decode to 404, as any malformed id', () => {
    const undecodable = Object.assign(new URIError("Failed to decode param '%ff'"), { status: 400, statusCode: 400 });
    expect(answer(undecodable)).toEqual({ status: 404, code: 'not_found', type: NotFoundError });
  });

  it('maps body-parser errors by type, then by status, never to 500', () => {
    expect(answer(httpError(413, 'request entity too large', { type: 'entity.too.large', limit: 65536 }))).toEqual({
      status: 413,
      code: 'invalid_request',
      type: RequestRefusedError,
    });
    expect(answer(httpError(400, 'Unexpected end of JSON input', { type: 'entity.parse.failed' }))?.code).toBe('invalid_request');
    expect(answer(httpError(415, 'unsupported content encoding "compress"', { type: 'encoding.unsupported' }))).toEqual({
      status: 415,
      code: 'unsupported_type',
      type: UnsupportedTypeError,
    });
    expect(answer(httpError(415, 'unsupported charset "LATIN1"', { type: 'charset.unsupported' }))?.status).toBe(415);
    // A gzip body that does not inflate: the zlib error, wrapped with status 400 and no type.
    expect(answer(httpError(400, 'incorrect header check', { code: 'Z_DATA_ERROR' }))).toEqual({
      status: 400,
      code: 'invalid_request',
      type: InvalidRequestError,
    });
    expect(answer(httpError(411, 'length required'))).toEqual({ status: 411, code: 'invalid_request', type: RequestRefusedError });
  });

  it('leaves a 5xx http error and anything unknown to the 500 path, whatever its message says', () => {
    expect(toAppError(httpError(500, 'stream is not readable', { type: 'stream.not.readable' }))).toBeUndefined();
    // The old mapper matched these two busboy messages; a plain error is no longer guessed from its text.
    expect(toAppError(new Error('Multipart: Boundary not found'))).toBeUndefined();
    expect(toAppError(new Error('Unexpected end of form'))).toBeUndefined();
    // A stray `status` on someone else's error is not an HTTP-layer answer.
    expect(toAppError(Object.assign(new Error('S3 says no'), { status: 403 }))).toBeUndefined();
  });

  it('still maps a dependency failure to 503', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(answer(refused)).toEqual({ status: 503, code: 'unavailable', type: UnavailableError });
  });
});

describe('isClientAbort', () => {
  const request = (socketDestroyed: boolean, complete: boolean) => ({ socket: { destroyed: socketDestroyed }, complete }) as unknown as Request;

  it("recognises raw-body's aborted request and a connection gone mid-body", () => {
    expect(isClientAbort(httpError(400, 'request aborted', { type: 'request.aborted', code: 'ECONNABORTED' }), request(false, false))).toBe(true);
    expect(isClientAbort(new Error('Request aborted'), request(true, false))).toBe(true);
    expect(isClientAbort(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }), request(true, true))).toBe(true);
  });

  it('is not fooled by a dependency reset while the client is still there', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(isClientAbort(reset, request(false, true))).toBe(false);
    expect(isClientAbort(new Error('boom'), request(true, true))).toBe(false);
  });
});

describe('errorHandler: one mapping of errors to statuses, two renderings', () => {
  /** Answers GET <prefix>/<kind> by throwing that kind of error, through the real error handler. */
  async function answersFor(prefix: string, kind: string): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
    const errors: Record<string, () => unknown> = {
      invalid: () => new InvalidRequestError('Expected a title'),
      gone: () => new GoneError('Image "x" has been deleted'),
      limited: () => new RateLimitedError('At most 30 uploads per minute', 7),
      bug: () => new TypeError('undefined is not a function'),
    };
    const app = express();
    app.get(`${prefix}/:kind`, (req) => {
      throw errors[req.params.kind!]!();
    });
    app.use(errorHandler(createLogger({ level: 'silent', name: 'test' }), { maxBytes: 64 * 1024, maxMs: 1000, stopping: new AbortController().signal }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}/${kind}`);
      return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() };
    } finally {
      server.close();
    }
  }

  it("renders the contract's error, and Imgur's envelope under /3/ with the same status", async () => {
    expect(await answersFor('/api/v1', 'invalid')).toEqual({
      status: 400,
      retryAfter: null,
      body: { error: { code: 'invalid_request', message: 'Expected a title' } },
    });
    expect(await answersFor('/3', 'invalid')).toEqual({
      status: 400,
      retryAfter: null,
      body: { data: { error: 'Expected a title', request: '/3/invalid', method: 'GET' }, success: false, status: 400 },
    });
    expect(await answersFor('/3', 'limited')).toMatchObject({ status: 429, retryAfter: '7', body: { status: 429, success: false } });
  });

  it('answers a deleted image 404 for Imgur clients, which know no 410', async () => {
    expect(await answersFor('/api/v1', 'gone')).toMatchObject({ status: 410, body: { error: { code: 'gone' } } });
    expect(await answersFor('/3', 'gone')).toMatchObject({ status: 404, body: { status: 404, success: false } });
  });

  it('keeps an unknown error a 500 without its message, in either rendering', async () => {
    expect(await answersFor('/api/v1', 'bug')).toEqual({
      status: 500,
      retryAfter: null,
      body: { error: { code: 'internal', message: 'Internal server error' } },
    });
    expect(await answersFor('/3', 'bug')).toMatchObject({
      status: 500,
      body: { data: { error: 'Internal server error' }, success: false, status: 500 },
    });
  });
});
