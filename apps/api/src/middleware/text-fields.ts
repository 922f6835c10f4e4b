import type { z } from 'zod';

const NUL = '\u0000';
/** What a UTF-8 decoder puts in place of bytes that are not UTF-8. */
const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * The rules every text field of a request body obeys before it can be stored (title, callback_url, reason,
 * image_id, phash): no NUL byte (PostgreSQL text cannot hold one, so it would fail only after the upload's original
 * was stored), and valid UTF-8.
 *
 * Busboy (under multer) decodes multipart field values as UTF-8 and substitutes U+FFFD for invalid bytes, so the
 * raw bytes never reach us: a U+FFFD in a field is therefore treated as the invalid UTF-8 it almost always is, and
 * refused rather than stored as a corrupted string. A client that really means U+FFFD cannot send it (a small
 * price: it is not a character anyone titles an image with). JSON bodies are checked on their raw bytes as well
 * (see json-body.ts), so there the message names the bytes, not the substitute.
 *
 * @example storableText('title', z.string().trim().max(255))
 */
export function storableText<S extends z.ZodString | z.ZodURL>(field: string, schema: S): S {
  return schema
    .refine((value) => !value.includes(NUL), {
      error: (issue) => `Expected ${field} without NUL bytes but received one at index ${String(issue.input).indexOf(NUL)}`,
      abort: true,
    })
    .refine((value) => !value.includes(REPLACEMENT_CHARACTER), {
      error: `Expected ${field} as valid UTF-8 but received bytes that are not (decoded as U+FFFD)`,
      abort: true,
    }) as S;
}
