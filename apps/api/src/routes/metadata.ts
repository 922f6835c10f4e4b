import { Router } from 'express';
import { getImageMetadata, type Services } from '@renditions/pipeline';
import type { OwnerAccessReader } from '../middleware/admin-auth';
import { rejectMalformedImageId } from '../middleware/validate-id';

/** `GET /api/v1/images/:id/metadata`: the private EXIF summary, for the uploader (X-Delete-Token) or an admin. */
export function metadataRoutes(services: Services, ownerAccess: OwnerAccessReader): Router {
  const router = Router();
  router.param('id', rejectMalformedImageId);

  router.get('/api/v1/images/:id/metadata', async (req, res) => {
    const resource = await getImageMetadata(services, req.params.id, ownerAccess(req));
    // Private: no shared cache (the CDN included) may keep a copy.
    res.set('Cache-Control', 'private, no-store').json(resource);
  });

  return router;
}
