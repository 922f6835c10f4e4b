import type { Request, Response } from 'express';
import multer from 'multer';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidRequestError, NotFoundError } from '@renditions/errors';
import { translateMultipartErrors } from '../src/middleware/multipart-errors';
import { storableText } from '../src/middleware/text-fields';
import { rejectMalformedBlocklistId, rejectMalformedImageId } from '../src/middleware/validate-id';

function issues(schema: z.ZodType, value: unknown): string[] {
  const parsed = schema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((issue) => issue.message);
}

describe('storableText', () => {
  const title = storableText('title', z.string().trim().max(255));

  it('accepts any other text, trimmed', () => {
    expect(title.parse('  Zürich, 東京 🌅  ')).toBe('Zürich, 東京 🌅');
  });

  it('refuses a NUL byte, naming where it is', () => {
    expect(issues(title, 'ab\u0000c')).toEqual(['Expected title without NUL bytes but received one at index 2']);
  });

  it('refuses the replacement character busboy puts in place of invalid UTF-8', () => {
    const decoded = Buffer.from([0x61, 0xff, 0x62]).toString('utf8');
    expect(issues(title, decoded)).toEqual(['Expected title as valid UTF-8 but received bytes that are not (decoded as U+FFFD)']);
  });

  it('checks URLs as well, whatever the URL parser would have made of them', () => {
    const callback = storableText('callback_url', z.url({ protocol: /^https?$/ }));
    expect(issues(callback, 'https://example.com/\u0000')).toContain('Expected callback_url without NUL bytes but received one at index 20');
    expect(issues(callback, 'https://example.com/hook')).toEqual([]);
  });
});

describe('id parameters', () => {
  const run = (handler: typeof rejectMalformedImageId, id: string) => {
    let passed: unknown = 'not called';
    handler({} as Request, {} as Response, (error?: unknown) => (passed = error), id, 'id');
    return passed;
  };

  it('lets well-formed image ids through and makes anything else 404', () => {
    expect(run(rejectMalformedImageId, 'k3J9xQ2')).toBeUndefined();
    for (const id of ['k3J9xQ', 'k3J9xQ2a', 'k3J9xQ\u0000', 'k3J9x-2', '\uFFFDk3J9xQ', '../../e']) {
      expect(run(rejectMalformedImageId, id), JSON.stringify(id)).toBeInstanceOf(NotFoundError);
    }
  });

  it('lets UUIDs through as blocklist ids and makes anything else 404', () => {
    expect(run(rejectMalformedBlocklistId, '0b7a3c1e-5d2f-4e8a-9c6b-1f2e3d4c5b6a')).toBeUndefined();
    expect(run(rejectMalformedBlocklistId, 'anything')).toBeInstanceOf(NotFoundError);
    expect(run(rejectMalformedBlocklistId, '0b7a3c1e-5d2f-4e8a-9c6b-1f2e3d4c5b6a\u0000')).toBeInstanceOf(NotFoundError);
  });
});

describe('translateMultipartErrors', () => {
  const through = (error: unknown) => {
    let passed: unknown;
    translateMultipartErrors((_req, _res, next) => next(error))({} as Request, {} as Response, (e?: unknown) => (passed = e));
    return passed;
  };

  it("turns busboy's plain parser errors into 400 invalid_request", () => {
    const translated = through(new Error('Malformed part header'));
    expect(translated).toBeInstanceOf(InvalidRequestError);
    expect((translated as Error).message).toContain('(Malformed part header)');
  });

  it("passes multer's coded errors, spool faults and success through unchanged", () => {
    const multerError = new multer.MulterError('LIMIT_FILE_SIZE', 'image');
    expect(through(multerError)).toBe(multerError);
    const diskFull = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    expect(through(diskFull)).toBe(diskFull);
    expect(through(undefined)).toBeUndefined();
  });
});
