import { Router } from 'express';
import { z } from 'zod';
import { decideModeration, type Services } from '@renditions/pipeline';
import { requireAdmin } from '../middleware/admin-auth';
import { parseBody } from '../middleware/parse-body';
import { storableText } from '../middleware/text-fields';
import { rejectMalformedImageId } from '../middleware/validate-id';

const MODERATION_PATH = '/api/v1/admin/images/:id/moderation';

export const verdictBody = z
  .object({
    verdict: z.enum(['allow', 'reject', 'review']),
    reason: storableText('reason', z.string().trim().max(1000)).optional(),
  })
  .strict();

/**
 * `POST /api/v1/admin/images/:id/moderation`: an admin settles an image's moderation, typically one in `review`.
 * `reject` takes it down everywhere; a rejected image cannot be allowed again (409).
 */
export function adminModerationRoutes(services: Services): Router {
  const router = Router();
  router.param('id', rejectMalformedImageId);
  router.use(MODERATION_PATH, requireAdmin(services.config.admin));
  router.post(MODERATION_PATH, async (req, res) => {
    const body = parseBody(verdictBody, req.body);
    const resource = await decideModeration(services, req.params.id, { verdict: body.verdict, reason: body.reason ?? null });
    res.set('Cache-Control', 'no-store').json(resource);
  });
  return router;
}
