import type { RequestHandler } from 'express';
import helmet from 'helmet';
import type { Config } from '@renditions/config';

/** Where the CDN routes live: they carry their own, stricter headers (send-image.ts) and CORS (cdn.ts). */
const isCdnPath = (path: string) => path.startsWith('/i/');
const isBullBoardPath = (path: string) => path === '/admin/queues' || path.startsWith('/admin/queues/');

/**
 * helmet's security headers on the JSON API and the upload page, each with a Content-Security-Policy that fits
 * what it loads:
 * - the upload page (public/) has no inline script or style: only its own files, its own API (XHR, fetch,
 *   EventSource) and the images it shows, which come from PUBLIC_BASE_URL (the CDN's host in production);
 * - Bull Board's UI (/admin/queues) writes inline styles and loads its fonts from Google Fonts;
 * - the CDN routes are left alone: an image already answers `default-src 'none'; sandbox` and must stay
 *   embeddable by other origins, which helmet's same-origin resource policy would forbid.
 * `upgrade-insecure-requests` is left out: the product runs on plain http by default (`npm start`), where it
 * would send the page's image requests to an https port nobody listens on.
 */
export function securityHeaders(config: Pick<Config, 'publicBaseUrl'>): RequestHandler {
  // Read per request: PUBLIC_BASE_URL is settled at start, but tests only learn their port after createApp.
  const imageOrigin = () => new URL(config.publicBaseUrl).origin;
  const common = {
    'default-src': ["'self'"],
    'script-src': ["'self'"],
    'connect-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
  };
  const page = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { ...common, 'style-src': ["'self'"], 'img-src': ["'self'", 'data:', imageOrigin] },
    },
  });
  const bullBoard = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        ...common,
        'style-src': ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
        'font-src': ["'self'", 'data:', 'https://fonts.gstatic.com'],
        'img-src': ["'self'", 'data:'],
      },
    },
  });
  return (req, res, next) => {
    if (isCdnPath(req.path)) return next();
    if (isBullBoardPath(req.path)) return bullBoard(req, res, next);
    return page(req, res, next);
  };
}
