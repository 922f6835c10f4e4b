import path from 'node:path';
import express, { Router } from 'express';

const PUBLIC_DIR = path.resolve(import.meta.dirname, '../../public');

/** `GET /`: the upload page, plain HTML and script served as they are (no build step). */
export function uploadPageRoutes(): Router {
  const router = Router();
  router.use(
    express.static(PUBLIC_DIR, {
      index: 'index.html',
      setHeaders: (res) => res.set('Cache-Control', 'no-cache'),
    }),
  );
  return router;
}
