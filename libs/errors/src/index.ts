/**
 * The one error hierarchy of the product. Each subclass carries the HTTP status and the stable `code`
 * of the contract's JSON error; the API maps them in a single middleware.
 */
export abstract class AppError extends Error {
  abstract readonly httpStatus: number;
  abstract readonly code: string;
  readonly details?: Record<string, unknown>;

  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options?.details;
  }
}

export class MissingFileError extends AppError {
  readonly httpStatus = 400;
  readonly code = 'missing_file';
}

export class InvalidRequestError extends AppError {
  readonly httpStatus = 400;
  readonly code = 'invalid_request';
}

export class UnauthorizedError extends AppError {
  readonly httpStatus = 401;
  readonly code = 'unauthorized';
}

export class ForbiddenError extends AppError {
  readonly httpStatus = 403;
  readonly code = 'forbidden';
}

export class NotFoundError extends AppError {
  readonly httpStatus = 404;
  readonly code = 'not_found';
}

export class GoneError extends AppError {
  readonly httpStatus = 410;
  readonly code = 'gone';
}

/** The request is valid but the resource's current state does not allow it (yet). */
export class ConflictError extends AppError {
  readonly httpStatus = 409;
  readonly code = 'conflict';
}

export class FileTooLargeError extends AppError {
  readonly httpStatus = 413;
  readonly code = 'file_too_large';
}

/**
 * The HTTP layer refused the request as sent, under a rule the contract has no code of its own for: a JSON body over
 * its limit (413), or another 4xx the body parser or router gives. The status is HTTP's, the code `invalid_request`,
 * so clients keep one code for "fix the request" while proxies and tools still see the precise status.
 */
export class RequestRefusedError extends AppError {
  readonly code = 'invalid_request';
  constructor(message: string, readonly httpStatus: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class UnsupportedTypeError extends AppError {
  readonly httpStatus = 415;
  readonly code = 'unsupported_type';
}

export class InvalidImageError extends AppError {
  readonly httpStatus = 422;
  readonly code = 'invalid_image';
}

export class TooManyPixelsError extends AppError {
  readonly httpStatus = 422;
  readonly code = 'too_many_pixels';
}

export class UnavailableForLegalReasonsError extends AppError {
  readonly httpStatus = 451;
  readonly code = 'unavailable_for_legal_reasons';
}

export class RateLimitedError extends AppError {
  readonly httpStatus = 429;
  readonly code = 'rate_limited';
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message);
  }
}

/** A dependency (database, Redis, storage) is down: answered 503 with Retry-After. */
export class UnavailableError extends AppError {
  readonly httpStatus = 503;
  readonly code = 'unavailable';
  constructor(message: string, readonly retryAfterSeconds = 5, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
