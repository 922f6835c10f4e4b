import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Router } from 'express';
import type { Services } from '@renditions/pipeline';
import { requireAdmin } from '../middleware/admin-auth';

const ADMIN_QUEUES_PATH = '/admin/queues';

/**
 * `/admin/queues`: Bull Board over every queue of the product, behind the admin credentials. It reuses the
 * API's own `Queue` instances, so it sees the configured prefix and shares their Redis connection. Failed jobs
 * can be retried from it (the adapters are not read-only).
 */
export function adminQueueRoutes(services: Services): Router {
  const serverAdapter = new ExpressAdapter();
  // The UI builds its asset and API URLs from this, so it must match where the router is mounted.
  serverAdapter.setBasePath(ADMIN_QUEUES_PATH);
  createBullBoard({
    queues: [...services.queues.queues.values()].map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Renditions queues' } },
  });
  const router = Router();
  router.use(ADMIN_QUEUES_PATH, requireAdmin(services.config.admin), serverAdapter.getRouter());
  return router;
}
