import { AppError, UnavailableError } from '@renditions/errors';

export class ObjectNotFoundError extends AppError {
  readonly httpStatus = 404;
  readonly code = 'not_found';

  constructor(readonly key: string, options?: { cause?: unknown }) {
    super(`No object at key "${key}"`, options);
  }
}

/** The backend cannot be reached or is failing; callers answer 503 and may retry. */
export class StorageUnavailableError extends UnavailableError {}
