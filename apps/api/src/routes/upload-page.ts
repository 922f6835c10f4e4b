import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router } from 'express';

const PUBLIC_DIR = path.resolve(import.meta.dirname, '../../public');
// The ThumbHash decoder the page imports: the package's own ES module (no dependencies), served from here so the
// page needs no CDN and its CSP stays `script-src 'self'`.
const THUMBHASH_MODULE = createRequire(import.meta.url).resolve('thumbhash');
// Revalidated on every load (ETag), so a new version of the page or of the package is picked up at once.
const CACHE_CONTROL = 'no-cache';

/** `GET /`: the upload page, plain HTML and script served as they are (no build step). */
export function uploadPageRoutes(): Router {
  const router = Router();
  router.use(
    express.static(PUBLIC_DIR, {
      index: 'index.html',
      setHeaders: (res) => res.set('Cache-Control', CACHE_CONTROL),
    }),
  );
  router.get('/vendor/thumbhash.js', (_req, res) => res.sendFile(THUMBHASH_MODULE, { headers: { 'Cache-Control': CACHE_CONTROL } }));
  return router;
}
