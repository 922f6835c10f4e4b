import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '@renditions/observability';
import { pinoHttp } from 'pino-http';

// The Imgur API's DELETE /3/image/:deletehash names its delete token in the path.
const IMGUR_DELETE_PATH = /^(\/3\/image\/)[^/?#]+/i;

/** The path and query as logged: a delete token in it is replaced. */
function loggedUrl(method: string, url: string): string {
  return method === 'DELETE' ? url.replace(IMGUR_DELETE_PATH, '$1[deletehash]') : url;
}

/**
 * One line per answered request: method, URL, status, duration (`responseTime`, ms) and a request id, which also
 * tags whatever a handler logs through `req.log`. Headers are never logged: they carry cookies, Basic credentials,
 * bearer tokens and delete tokens, and a busy site would write them out on every request.
 */
export function requestLog(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    // Unique across processes and restarts, unlike pino-http's counter.
    genReqId: () => randomUUID(),
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: loggedUrl(req.method, req.url) }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    autoLogging: { ignore: (req) => req.url === '/healthz' },
  });
}
