import type { ErrorRequestHandler } from 'express';
import multer from 'multer';
import {
  AppError,
  FileTooLargeError,
  InvalidRequestError,
  RateLimitedError,
  UnavailableError,
} from '@renditions/errors';
import type { Logger } from '@renditions/observability';
import { asDependencyError } from '@renditions/pipeline';

function fromMulter(error: multer.MulterError): AppError {
  if (error.code === 'LIMIT_FILE_SIZE') return new FileTooLargeError('The file is larger than the upload limit');
  if (error.code === 'LIMIT_UNEXPECTED_FILE') {
    return new InvalidRequestError(`Unexpected file field "${error.field}"; send the file in the "image" field`);
  }
  return new InvalidRequestError(`Malformed multipart request: ${error.message}`);
}

/** The one place where errors become the contract's JSON error; unknown errors are logged and answered 500. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (rawError, req, res, _next) => {
    let error: unknown = rawError instanceof multer.MulterError ? fromMulter(rawError) : rawError;
    error = asDependencyError(error, 'A dependency');
    if ((rawError as { type?: string }).type === 'entity.parse.failed') {
      error = new InvalidRequestError('The request body is not valid JSON');
    }
    if (error instanceof AppError) {
      if (error instanceof UnavailableError || error instanceof RateLimitedError) {
        res.set('Retry-After', String(error.retryAfterSeconds));
      }
      if (error.httpStatus >= 500) logger.warn({ err: rawError, url: req.originalUrl }, error.message);
      res.status(error.httpStatus).json({ error: { code: error.code, message: error.message } });
      return;
    }
    if ((rawError as { message?: string }).message?.includes('Multipart') || (rawError as { message?: string }).message?.includes('Unexpected end of form')) {
      res.status(400).json({ error: { code: 'invalid_request', message: 'Malformed multipart request' } });
      return;
    }
    logger.error({ err: rawError, method: req.method, url: req.originalUrl }, 'unhandled error');
    res.status(500).json({ error: { code: 'internal', message: 'Internal server error' } });
  };
}
