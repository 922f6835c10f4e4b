import type { ErrorRequestHandler, Request, Response } from 'express';
import multer from 'multer';
import {
  AppError,
  FileTooLargeError,
  ForbiddenError,
  GoneError,
  InvalidRequestError,
  NotFoundError,
  RateLimitedError,
  RequestRefusedError,
  UnauthorizedError,
  UnavailableError,
  UnsupportedTypeError,
} from '@renditions/errors';
import type { Logger } from '@renditions/observability';
import { asDependencyError } from '@renditions/pipeline';
import { imgurError, imgurStatus, isImgurRequest } from '../imgur/envelope';
import { isClientAbort } from './client-abort';
import { finishBodyAfterAnswer, type RefusedBodyDrain } from './content-length';

/** What multer refuses, by its documented `code`; anything else it reports is a malformed multipart body too. */
const MULTER_MESSAGES: Record<string, (error: multer.MulterError) => string> = {
  LIMIT_UNEXPECTED_FILE: (error) => `Unexpected file field "${error.field}"; send the file in the "image" field`,
  LIMIT_FILE_COUNT: () => 'Expected one file, in the "image" field, but received more',
  LIMIT_PART_COUNT: () => 'The multipart body has too many parts',
  LIMIT_FIELD_COUNT: () => 'The multipart body has too many fields',
  LIMIT_FIELD_KEY: () => 'A multipart field name is too long',
  LIMIT_FIELD_VALUE: (error) => `Field "${error.field}" is too long`,
  MISSING_FIELD_NAME: () => 'A multipart part has no field name',
  STREAM_DESTROYED: () => 'The upload ended before the file did',
};

function fromMulter(error: multer.MulterError): AppError {
  if (error.code === 'LIMIT_FILE_SIZE') return new FileTooLargeError('The file is larger than the upload limit', { cause: error });
  const message = MULTER_MESSAGES[error.code]?.(error) ?? `Malformed multipart request: ${error.message}`;
  return new InvalidRequestError(message, { cause: error });
}

/**
 * The status of an error raised by the HTTP stack itself: http-errors (body-parser, raw-body) and express's router
 * mark theirs with equal numeric `status` and `statusCode` (http-errors' own `isHttpError` test).
 */
function httpStatusOf(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  return typeof status === 'number' && status === statusCode ? status : undefined;
}

/** A 4xx from body-parser/raw-body, by its `type` where that says more than the status, else by the status. */
function fromHttpError(error: Error & { type?: unknown; limit?: unknown }, status: number): AppError {
  const options = { cause: error };
  switch (error.type) {
    case 'entity.parse.failed':
      return new InvalidRequestError(`The request body is not valid JSON: ${error.message}`, options);
    case 'entity.too.large':
      // Not file_too_large: no file is involved, and an upload client would tell its user the image is too big.
      return new RequestRefusedError(`The request body is larger than the ${String(error.limit)} bytes accepted here`, 413, options);
    case 'encoding.unsupported':
      return new UnsupportedTypeError(`${error.message}; send the body uncompressed, or as gzip, deflate or br`, options);
    case 'charset.unsupported':
      return new UnsupportedTypeError(`${error.message}; send JSON as UTF-8`, options);
    case 'request.size.invalid':
      return new InvalidRequestError('The request body does not match its Content-Length', options);
  }
  if (status === 400) return new InvalidRequestError(`The request body could not be read: ${error.message}`, options);
  if (status === 401) return new UnauthorizedError(error.message, options);
  if (status === 403) return new ForbiddenError(error.message, options);
  if (status === 404) return new NotFoundError(error.message, options);
  if (status === 410) return new GoneError(error.message, options);
  if (status === 415) return new UnsupportedTypeError(error.message, options);
  return new RequestRefusedError(error.message, status, options);
}

/**
 * Translates any error into the contract's, by type or code only (never by message text); undefined for an error
 * we do not know, which is a bug or an outage to look at.
 */
export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (error instanceof multer.MulterError) return fromMulter(error);
  const status = httpStatusOf(error);
  // express decodes path parameters before any handler runs: `%ff`, a lone `%` or bad UTF-8 fail there, with a
  // URIError marked 400. Every parameter of ours names a resource (an id, a size), and the contract makes any id
  // that does not exist, malformed or not, a 404.
  if (error instanceof URIError && status === 400) return new NotFoundError(`No such resource: ${error.message}`, { cause: error });
  if (status !== undefined && status >= 400 && status < 500) return fromHttpError(error as Error, status);
  const dependency = asDependencyError(error, 'A dependency');
  return dependency instanceof AppError ? dependency : undefined;
}

/**
 * One mapping of errors to statuses (the types above), two renderings: the contract's JSON error, or Imgur's
 * envelope for the Imgur-compatible API (/3/), whose clients read nothing else.
 */
function sendError(req: Request, res: Response, status: number, code: string, message: string): void {
  if (isImgurRequest(req)) {
    const imgur = imgurStatus(status);
    res.status(imgur).json(imgurError(req, imgur, message));
    return;
  }
  res.status(status).json({ error: { code, message } });
}

/** The one place where errors become the contract's JSON error (or Imgur's); unknown errors are logged and answered 500. */
export function errorHandler(logger: Logger, refusedBodyDrain: RefusedBodyDrain): ErrorRequestHandler {
  return (rawError, req, res, _next) => {
    const context = { err: rawError, method: req.method, url: req.originalUrl };
    if (isClientAbort(rawError, req)) {
      // Expected on a public endpoint many times a day; nobody is left to answer.
      logger.debug(context, 'client went away before the answer');
      res.destroy();
      return;
    }
    if (res.headersSent) {
      // Too late for a JSON error: cutting the connection tells the client the answer is incomplete.
      logger.error(context, 'failed after the answer began');
      res.destroy();
      return;
    }
    if (!req.complete) finishBodyAfterAnswer(req, res, refusedBodyDrain);
    const error = toAppError(rawError);
    if (!error) {
      logger.error(context, 'unhandled error');
      sendError(req, res, 500, 'internal', 'Internal server error');
      return;
    }
    if (error instanceof UnavailableError || error instanceof RateLimitedError) {
      res.set('Retry-After', String(error.retryAfterSeconds));
    }
    if (error.httpStatus >= 500) logger.warn(context, error.message);
    sendError(req, res, error.httpStatus, error.code, error.message);
  };
}
