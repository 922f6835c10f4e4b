import { Router } from 'express';
import { sql } from 'drizzle-orm';
import pTimeout from 'p-timeout';
import { UnauthorizedError } from '@renditions/errors';
import { metricsAuthorized, type Metrics } from '@renditions/observability';
import type { Services } from '@renditions/pipeline';

const CHECK_TIMEOUT_MS = 2000;

async function check(probe: () => Promise<unknown>): Promise<'ok' | string> {
  try {
    await pTimeout(probe(), { milliseconds: CHECK_TIMEOUT_MS, message: `no answer within ${CHECK_TIMEOUT_MS} ms` });
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export function healthRoutes(services: Services, metrics: Metrics): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [database, redis, storage] = await Promise.all([
      check(() => services.db.execute(sql`select 1`)),
      check(() => services.queues.ping()),
      check(() => services.storage.ping()),
    ]);
    const checks = { database, redis, storage };
    const ready = Object.values(checks).every((result) => result === 'ok');
    if (!ready) res.set('Retry-After', '5');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'unavailable', checks });
  });
  // Metrics show traffic, queue depths and failure counts: with METRICS_TOKEN set, only a scraper holding it
  // reads them (Prometheus: `authorization: { credentials: <token> }`). Unset keeps /metrics open, as before.
  router.get('/metrics', async (req, res, next) => {
    if (!metricsAuthorized(services.config.metricsToken, req.get('Authorization'))) {
      res.set('WWW-Authenticate', 'Bearer realm="metrics"');
      return next(new UnauthorizedError('/metrics asks for Authorization: Bearer <METRICS_TOKEN>'));
    }
    res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}
