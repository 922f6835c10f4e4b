import { Router } from 'express';
import { listImageDeliveries, type Services } from '@renditions/pipeline';
import type { OwnerAccessReader } from '../middleware/admin-auth';
import { rejectMalformedImageId } from '../middleware/validate-id';

/** `GET /api/v1/images/:id/deliveries`: the webhook delivery log, for the uploader (X-Delete-Token) or an admin. */
export function deliveryRoutes(services: Services, ownerAccess: OwnerAccessReader): Router {
  const router = Router();
  router.param('id', rejectMalformedImageId);

  router.get('/api/v1/images/:id/deliveries', async (req, res) => {
    const items = await listImageDeliveries(services, req.params.id, ownerAccess(req));
    res.set('Cache-Control', 'no-store').json({ items });
  });

  return router;
}
