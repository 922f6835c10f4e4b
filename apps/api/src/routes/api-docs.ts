import { createRequire } from 'node:module';
import path from 'node:path';
import { Router } from 'express';
import { createApiDocument } from '../openapi/document';

const PAGE_DIR = path.resolve(import.meta.dirname, '../../api-reference');
const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
/** The files of swagger-ui-dist the page loads; the rest (its demo page, which loads the petstore) stays unserved. */
const SWAGGER_UI_FILES = new Set(['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png']);
// Revalidated on every load, so a new version of the API (or of Swagger UI) shows at once.
const headers = { 'Cache-Control': 'no-cache' };

/**
 * `GET /api/v1/openapi.json`, the OpenAPI 3.1 document, and `GET /docs`, Swagger UI rendering it. Every byte the
 * page needs comes from this server: it works offline and under a CSP without other hosts (security-headers.ts).
 */
export function apiDocsRoutes(): Router {
  const document = createApiDocument();
  const router = Router();
  router.get('/api/v1/openapi.json', (_req, res) => {
    res.set(headers).json(document);
  });
  router.get('/docs', (_req, res) => res.sendFile(path.join(PAGE_DIR, 'index.html'), { headers }));
  router.get('/docs/reference.js', (_req, res) => res.sendFile(path.join(PAGE_DIR, 'reference.js'), { headers }));
  router.get('/docs/assets/:file', (req, res, next) => {
    if (!SWAGGER_UI_FILES.has(req.params.file)) return next();
    res.sendFile(path.join(SWAGGER_UI_DIR, req.params.file), { headers });
  });
  return router;
}
