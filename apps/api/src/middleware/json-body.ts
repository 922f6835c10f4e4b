import { isUtf8 } from 'node:buffer';
import express, { type RequestHandler } from 'express';
import { InvalidRequestError } from '@renditions/errors';

/** Admin and API bodies are a few fields; anything bigger is not a request we serve. */
export const JSON_BODY_LIMIT = '64kb';

/**
 * `\u0000` in a JSON text: a NUL in a string (or key), unless its backslash is itself escaped (`\\u0000` is a
 * backslash followed by "u0000"). A raw 0x00 byte is not valid JSON at all, so the parser refuses that one.
 */
const ESCAPED_NUL = /(?<!\\)(?:\\\\)*\\u0000/;

/**
 * Parses JSON bodies for every route, refusing what must never reach a handler: bytes that are not UTF-8 (the
 * decoder would otherwise turn them into U+FFFD and let them through) and a NUL in any string or key (PostgreSQL
 * text cannot hold one). What body-parser refuses itself (too large, bad JSON, an unknown Content-Encoding or
 * charset, a gzip body that does not inflate) carries an http-errors `status`/`type` the error mapper translates.
 *
 * Checked on the raw bytes in `verify` rather than in a `reviver`: body-parser strips the own properties of any
 * error thrown while parsing, which would leave an AppError without its status.
 */
export function jsonBody(): RequestHandler {
  return express.json({
    limit: JSON_BODY_LIMIT,
    verify: (_req, _res, body, encoding) => {
      // body-parser also takes utf-16 and utf-32 JSON, decoded as declared; the field schemas still refuse a NUL there.
      if (!/^utf-?8$/i.test(encoding ?? 'utf-8')) return;
      if (!isUtf8(body)) {
        throw new InvalidRequestError('Expected a JSON body in UTF-8 but received bytes that are not valid UTF-8');
      }
      if (ESCAPED_NUL.test(body.toString('utf8'))) {
        throw new InvalidRequestError('Expected JSON strings without NUL bytes but received \\u0000');
      }
    },
  });
}
