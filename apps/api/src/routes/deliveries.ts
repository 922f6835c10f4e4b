import { Router } from 'express';
import { listImageDeliveries, type Services } from '@renditions/pipeline';

/** `GET /api/v1/images/:id/deliveries`: the webhook delivery log, for the uploader (X-Delete-Token) or an admin. */
export function deliveryRoutes(services: Services, isAdmin: (authorization?: string) => boolean): Router {
  const router = Router();

  router.get('/api/v1/images/:id/deliveries', async (req, res) => {
    const items = await listImageDeliveries(services, req.params.id, {
      deleteToken: req.get('X-Delete-Token'),
      isAdmin: isAdmin(req.get('Authorization')),
    });
    res.set('Cache-Control', 'no-store').json({ items });
  });

  return router;
}
