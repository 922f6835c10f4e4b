import type { RequestHandler } from 'express';
import { InvalidRequestError } from '@renditions/errors';

/**
 * Busboy (under multer) reports a malformed multipart body as a plain `Error` with neither a class nor a `code` of
 * its own: `multipart/mixed` or a missing boundary (thrown by its constructor), a part header without a colon or
 * over 16 KB, a body that ends mid-part. So they are translated here, where they arise, rather than recognised by
 * their message text later. What multer itself refuses is a `MulterError` with a code, and a fault of the spool
 * (ENOSPC, EACCES, ...) a system error with a code: both pass through to the error mapper unchanged.
 */
export function translateMultipartErrors(receive: RequestHandler): RequestHandler {
  return (req, res, next) => {
    receive(req, res, (error?: unknown) => {
      next(
        isMalformedBody(error)
          ? new InvalidRequestError(
              `Expected a multipart/form-data body with the file in the "image" field but it is malformed (${error.message})`,
              { cause: error },
            )
          : error,
      );
    });
  };
}

/** busboy reports a malformed body as a plain Error without a code; a spool fault (ENOSPC...) has a code. */
export function isMalformedBody(error: unknown): error is Error {
  return (
    error instanceof Error && Object.getPrototypeOf(error) === Error.prototype && (error as { code?: unknown }).code === undefined
  );
}
