import type { ReprocessFilter } from '@renditions/db';
import { InvalidRequestError } from '@renditions/errors';
import { RENDITION_FORMATS, RENDITION_SIZES } from '@renditions/imaging';

/** The filters as `npm run reprocess` takes them: comma lists and ISO 8601 dates, each optional. */
export interface ReprocessOptions {
  size?: string;
  format?: string;
  since?: string;
  until?: string;
}

/**
 * Checks the command line's filters: sizes and formats of the fixed renditions, ISO 8601 dates (a bare date is
 * midnight UTC), `since` before `until`. No filter selects every ready rendition.
 * @throws {InvalidRequestError} naming the option, what it expects and what it received
 * @example parseReprocessFilter({ format: 'avif', since: '2025-01-01' }) // { formats: ['avif'], since: 2025-01-01T00:00:00Z }
 */
export function parseReprocessFilter(options: ReprocessOptions): ReprocessFilter {
  const filter: ReprocessFilter = {
    sizes: listOf('size', options.size, RENDITION_SIZES),
    formats: listOf('format', options.format, RENDITION_FORMATS),
    since: dateOf('since', options.since),
    until: dateOf('until', options.until),
  };
  if (filter.since && filter.until && filter.since >= filter.until) {
    throw new InvalidRequestError(`Expected --since before --until but received ${options.since} and ${options.until}`);
  }
  return filter;
}

function listOf(option: string, value: string | undefined, known: readonly string[]): string[] | undefined {
  if (value === undefined) return undefined;
  const items = [...new Set(value.split(',').map((item) => item.trim()))];
  if (items.length === 0 || items.some((item) => !known.includes(item))) {
    throw new InvalidRequestError(`Expected --${option} to be a comma-separated list of ${known.join(', ')} but received "${value}"`);
  }
  return items;
}

function dateOf(option: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = /^\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim()) ? new Date(value.trim()) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw new InvalidRequestError(`Expected --${option} to be an ISO 8601 date such as 2025-01-31 or 2025-01-31T12:00:00Z but received "${value}"`);
  }
  return date;
}
