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
 * Sends an image with strong-ETag revalidation (304), a single byte range (206/416) and HEAD, streaming stored
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
  if (rangeHeader) {
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
  await pipeline(await storage.get(served.body.key, range), res);
}
