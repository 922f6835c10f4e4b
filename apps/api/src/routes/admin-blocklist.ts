import { Router } from 'express';
import { z } from 'zod';
import { blockHash, listBlocklist, unblockHash, type Services } from '@renditions/pipeline';
import { requireAdmin } from '../middleware/admin-auth';
import { parseBody } from '../middleware/parse-body';
import { storableText } from '../middleware/text-fields';
import { rejectMalformedBlocklistId } from '../middleware/validate-id';

const BLOCKLIST_PATH = '/api/v1/admin/blocklist';

export const blockBody = z
  .object({
    phash: storableText('phash', z.string().regex(/^[0-9a-fA-F]{16}$/, 'expected 16 hex digits')).optional(),
    image_id: storableText('image_id', z.string().min(1).max(64)).optional(),
    reason: storableText('reason', z.string().trim().max(1000)).optional(),
  })
  .strict()
  .refine((body) => (body.phash === undefined) !== (body.image_id === undefined), {
    message: 'send either "phash" (16 hex digits) or "image_id", not both',
  })
  // The refinement as JSON Schema, for the OpenAPI document (zod cannot render a refinement).
  .meta({ override: { oneOf: [{ required: ['phash'] }, { required: ['image_id'] }] } });

/**
 * The perceptual-hash blocklist, for admins: near-duplicates of a blocked hash are rejected by the moderation
 * stage without asking the hook. Blocking by `image_id` uses that image's hash: 409 while it is not computed yet.
 */
export function adminBlocklistRoutes(services: Services): Router {
  const router = Router();
  router.param('id', rejectMalformedBlocklistId);
  router.use(BLOCKLIST_PATH, requireAdmin(services.config.admin));

  router.post(BLOCKLIST_PATH, async (req, res) => {
    const body = parseBody(blockBody, req.body);
    const target = body.image_id === undefined ? { phash: body.phash as string } : { imageId: body.image_id };
    const entry = await blockHash(services, { ...target, reason: body.reason });
    res.status(201).location(`${BLOCKLIST_PATH}/${entry.id}`).json(entry);
  });

  router.get(BLOCKLIST_PATH, async (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ items: await listBlocklist(services) });
  });

  router.delete(`${BLOCKLIST_PATH}/:id`, async (req, res) => {
    await unblockHash(services, req.params.id);
    res.status(204).end();
  });

  return router;
}
