import { Router, type ErrorRequestHandler } from 'express';
import { AppError } from '@renditions/errors';
import { resolveOriginal, resolveRendition, CACHE_SHORT, type Services } from '@renditions/pipeline';
import { IMAGE_SECURITY_HEADERS, sendImage } from '../middleware/send-image';

/** The origin a CDN sits in front of: originals and renditions by public id. */
export function cdnRoutes(services: Services): Router {
  const router = Router();
  router.get('/i/:id/:size.:format', async (req, res) => {
    const { id, size, format } = req.params;
    await sendImage(req, res, await resolveRendition(services, id, size, format), services.storage);
  });
  router.get('/i/:id.:ext', async (req, res) => {
    const { id, ext } = req.params;
    await sendImage(req, res, await resolveOriginal(services, id, ext), services.storage);
  });
  return router;
}

/** Error answers on CDN routes are cached briefly at most (a 404 may become a 200 once an upload lands). */
export const cdnErrorHeaders: ErrorRequestHandler = (error, req, res, next) => {
  if (req.path.startsWith('/i/') && error instanceof AppError && !res.headersSent) {
    res.set({ ...IMAGE_SECURITY_HEADERS, 'Cache-Control': CACHE_SHORT });
    res.removeHeader('ETag');
    res.removeHeader('X-Rendition-Status');
  }
  next(error);
};
