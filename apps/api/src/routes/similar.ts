import { Router } from 'express';
import { z } from 'zod';
import { InvalidRequestError } from '@renditions/errors';
import { DEFAULT_SIMILAR_DISTANCE, findSimilarImages, MAX_SIMILAR_DISTANCE, type Services } from '@renditions/pipeline';
import { rejectMalformedImageId } from '../middleware/validate-id';

export const similarQuery = z.object({
  max_distance: z
    .string()
    .regex(/^\d{1,3}$/)
    .transform(Number)
    .pipe(z.number().max(MAX_SIMILAR_DISTANCE))
    .default(DEFAULT_SIMILAR_DISTANCE),
});

function parseSimilarQuery(query: Record<string, unknown>): z.infer<typeof similarQuery> {
  const parsed = similarQuery.safeParse(query);
  if (!parsed.success) {
    throw new InvalidRequestError(
      `Expected integer between 0 and ${MAX_SIMILAR_DISTANCE} for max_distance but received ${JSON.stringify(query.max_distance)}` +
        ` (the number of differing bits between two 64-bit perceptual hashes; past ${MAX_SIMILAR_DISTANCE} unrelated photos match)`,
    );
  }
  return parsed.data;
}

/** `GET /api/v1/images/:id/similar?max_distance=10`: perceptual near-duplicates, nearest first. */
export function similarRoutes(services: Services): Router {
  const router = Router();
  router.param('id', rejectMalformedImageId);

  router.get('/api/v1/images/:id/similar', async (req, res) => {
    const { max_distance } = parseSimilarQuery(req.query);
    const similar = await findSimilarImages(services, req.params.id, { maxDistance: max_distance });
    // New uploads change the answer at any time.
    res.set('Cache-Control', 'no-store').json(similar);
  });

  return router;
}
