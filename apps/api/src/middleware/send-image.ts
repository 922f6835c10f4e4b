import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import parseRange from 'range-parser';
import type { ServedImage } from '@renditions/pipeline';
import type { ObjectStorage } from '@renditions/storage';

/** Headers every image response carries, so a served file can never run as a page. */
export const IMAGE_SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; sandbox",
};

/**
 * RFC 9110 If-None-Match: weak comparison against a list of tags, or `*`. Evaluated whatever the request's
 * Cache-Control says (fetch() adds `no-cache` to conditional requests, which express's `req.fresh` honours).
 */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => opaque(tag) === opaque(etag));
}

/**
 * RFC 9110 §13.1.5 If-Range: a Range applies only if the representation is still the one the client holds,
 * proven by a strong entity-tag match. An HTTP-date never matches: we send no Last-Modified, so a client cannot
 * hold a date we would vouch for. Without it, a download resumed across the pending -> ready switch would get
 * WebP bytes spliced onto the JPEG it started with.
 */
export function ifRangeHolds(header: string | undefined, etag: string): boolean {
  if (header === undefined) return true;
  const tag = header.trim();
  return !tag.startsWith('W/') && !etag.startsWith('W/') && tag === etag;
}

/**
 * Whether a failed stream means the client went away mid-download (closed the tab, cancelled, seeked): the
 * response closed before it finished. That is the client's choice, not a server fault, so it is no error.
 * A storage read that fails has its own error code and still goes to the error handler.
 */
function clientLeftMidStream(error: unknown, res: Response): boolean {
  return (error as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE' && !res.writableFinished;
}

/**
 * Sends an image with strong-ETag revalidation (304), a single byte range (206/416) under If-Range, and HEAD, streaming stored
 * objects straight from storage rather than buffering them.
 */
export async function sendImage(req: Request, res: Response, served: ServedImage, storage: ObjectStorage): Promise<void> {
  const size = served.body.kind === 'stored' ? served.body.size : served.body.data.length;
  res.set({
    ...IMAGE_SECURITY_HEADERS,
    ETag: served.etag,
    'Cache-Control': served.cacheControl,
    'Content-Type': served.contentType,
    'Accept-Ranges': 'bytes',
  });
  if (served.renditionStatus) res.set('X-Rendition-Status', served.renditionStatus);
  if (ifNoneMatchHits(req.get('If-None-Match'), served.etag)) {
    res.status(304).end();
    return;
  }

  let range: { start: number; end: number } | undefined;
  const rangeHeader = req.headers.range;
  // A failed If-Range turns the request into a plain GET: the whole 200, never a 416 either.
  if (rangeHeader && ifRangeHolds(req.get('If-Range'), served.etag)) {
    const ranges = parseRange(size, rangeHeader, { combine: true });
    if (ranges === -1) {
      res.status(416).set('Content-Range', `bytes */${size}`).end();
      return;
    }
    // Malformed or multi-range requests get the whole file, which HTTP allows.
    if (ranges !== -2 && ranges.type === 'bytes' && ranges.length === 1 && ranges[0]) {
      range = { start: ranges[0].start, end: ranges[0].end };
      res.status(206).set('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    }
  }
  res.set('Content-Length', String(range ? range.end - range.start + 1 : size));
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  if (served.body.kind === 'buffer') {
    res.end(range ? served.body.data.subarray(range.start, range.end + 1) : served.body.data);
    return;
  }
  try {
    await pipeline(await storage.get(served.body.key, range), res);
  } catch (error) {
    if (!clientLeftMidStream(error, res)) throw error;
    req.log?.debug({ url: req.originalUrl }, 'client closed the connection mid-download');
  }
}
