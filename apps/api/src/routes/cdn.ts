import { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import {
  CACHE_SHORT,
  parseSuffixedName,
  resolveNegotiatedRendition,
  resolveOriginal,
  resolveRendition,
  type Services,
} from '@renditions/pipeline';
import { IMAGE_SECURITY_HEADERS, sendImage } from '../middleware/send-image';
import { rejectMalformedImageId } from '../middleware/validate-id';

/**
 * Images are public: any page may show them, and draw them on a canvas or fetch() them (hence CORS, and a
 * resource policy that lets other origins embed them). The same value for every origin, so a CDN caches one
 * copy and no `Vary: Origin` is needed. Set on every answer, errors included, so a page can read a 404 too.
 */
export const CDN_CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'ETag, Content-Range, Accept-Ranges, Content-Length, X-Rendition-Status',
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

/** CORS on `/i/*`; a preflight (a script sending If-None-Match or Range) is answered here, before any lookup. */
const cdnCors: RequestHandler = (req, res, next) => {
  res.set(CDN_CORS_HEADERS);
  if (req.method !== 'OPTIONS') return next();
  res
    .set({
      'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
      'Access-Control-Allow-Headers': 'Range, If-Range, If-None-Match, If-Modified-Since, If-Match',
      'Access-Control-Max-Age': '86400',
    })
    .status(204)
    .end();
};

/**
 * The origin a CDN sits in front of: originals and renditions by public id, renditions also in the format the
 * client's Accept header prefers and under Imgur's thumbnail names.
 */
export function cdnRoutes(services: Services): Router {
  const router = Router();
  router.param('id', rejectMalformedImageId);
  router.use('/i', cdnCors);
  router.get('/i/:id/:size.:format', async (req, res) => {
    const { id, size, format } = req.params;
    await sendImage(req, res, await resolveRendition(services, id, size, format), services.storage);
  });
  router.get('/i/:id/:size', async (req, res) => {
    // On every answer, errors and 304s included: a cache must keep one copy per format the header can pick.
    res.vary('Accept');
    const { id, size } = req.params;
    await sendImage(req, res, await resolveNegotiatedRendition(services, id, size, req.get('Accept')), services.storage);
  });
  // Imgur's `/i/k3J9xQ2m.jpg`; any other name is an original's (`/i/k3J9xQ2.jpg`), or no image at all.
  router.get('/i/:name.jpg', async (req, res, next) => {
    const suffixed = parseSuffixedName(req.params.name);
    if (!suffixed) return next();
    await sendImage(req, res, await resolveRendition(services, suffixed.id, suffixed.size, 'jpg'), services.storage);
  });
  router.get('/i/:id.:ext', async (req, res) => {
    const { id, ext } = req.params;
    await sendImage(req, res, await resolveOriginal(services, id, ext), services.storage);
  });
  return router;
}

/**
 * Error answers on CDN routes are cached briefly at most (a 404 may become a 200 once an upload lands) and can never
 * run as a page: every error, including those raised before a route matched (a malformed percent-escape).
 */
export const cdnErrorHeaders: ErrorRequestHandler = (error, req, res, next) => {
  if (req.path.startsWith('/i/') && !res.headersSent) {
    // CORS too: the error may come from a layer before the CDN router (a body parser, a rate limit).
    res.set({ ...IMAGE_SECURITY_HEADERS, ...CDN_CORS_HEADERS, 'Cache-Control': CACHE_SHORT });
    res.removeHeader('ETag');
    res.removeHeader('X-Rendition-Status');
  }
  next(error);
};
