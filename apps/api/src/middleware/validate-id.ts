import type { RequestParamHandler } from 'express';
import { NotFoundError } from '@renditions/errors';
import { isWellFormedImageId } from '@renditions/pipeline';

/** Blocklist entries are keyed by `randomUUID()`. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Enough of a rejected id to recognise it in the answer, however long the URL was. */
function quoted(id: string): string {
  return JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}...` : id);
}

/**
 * `router.param('id', ...)` for image ids: an id that cannot exist (a NUL, a character outside the id alphabet, the
 * wrong length) is the contract's 404 before any query runs, so it never reaches PostgreSQL (which cannot even
 * compare a NUL). Malformed percent-escapes fail earlier, while express decodes the path: the error mapper makes
 * those 404 too.
 */
export const rejectMalformedImageId: RequestParamHandler = (_req, _res, next, id: string) => {
  next(isWellFormedImageId(id) ? undefined : new NotFoundError(`No image with id ${quoted(id)}`));
};

/** `router.param('id', ...)` for blocklist entry ids: anything but a UUID names no entry. */
export const rejectMalformedBlocklistId: RequestParamHandler = (_req, _res, next, id: string) => {
  next(UUID.test(id) ? undefined : new NotFoundError(`No blocklist entry with id ${quoted(id)}`));
};
