import { z } from 'zod';
import { findImagesNearPhash } from '@renditions/db';
import { UnavailableForLegalReasonsError } from '@renditions/errors';
import { stepStatusSchema } from './image-resource';
import { loadImage } from './images';
import { originalUrl } from './resource';
import type { Services } from './services';

export const DEFAULT_SIMILAR_DISTANCE = 10;
/** Past 32 bits two pHashes are no more alike than unrelated photos, and the candidate lists approach a full scan. */
export const MAX_SIMILAR_DISTANCE = 32;
export const SIMILAR_LIMIT = 50;

const similarImageSchema = z.object({
  id: z.string(),
  distance: z.int().min(0).max(MAX_SIMILAR_DISTANCE).meta({ description: 'Differing bits between the two 64-bit perceptual hashes' }),
  url: z.url().meta({ description: "The other image's original" }),
});

/**
 * `GET /api/v1/images/:id/similar`. `phash_status` is the image's phash stage: until it is `ready` the list is
 * empty because there is nothing to compare yet, not because nothing is alike, so a client knows to ask again.
 */
export const similarImagesSchema = z
  .object({ items: z.array(similarImageSchema).max(SIMILAR_LIMIT), phash_status: stepStatusSchema })
  .meta({ id: 'SimilarImages' });

export type SimilarImage = z.infer<typeof similarImageSchema>;
export type SimilarImages = z.infer<typeof similarImagesSchema>;

/**
 * Other live images whose perceptual hash is within `maxDistance` bits of this image's, nearest first (at most
 * {@link SIMILAR_LIMIT}); other uploads of the same bytes come first, at distance 0.
 * @throws {NotFoundError} unknown id
 * @throws {GoneError} deleted
 * @throws {UnavailableForLegalReasonsError} rejected by moderation: its look-alikes are not advertised either
 */
export async function findSimilarImages(
  services: Pick<Services, 'db' | 'config'>,
  id: string,
  options: { maxDistance: number },
): Promise<SimilarImages> {
  const { image, asset, stages } = await loadImage(services, id);
  const phashStatus = stages.find((stage) => stage.stage === 'phash')?.status ?? 'pending';
  if (asset.moderationVerdict === 'reject') {
    throw new UnavailableForLegalReasonsError(`Image "${id}" was taken down by moderation`);
  }
  if (asset.phash === null) return { items: [], phash_status: phashStatus };
  const rows = await findImagesNearPhash(services.db, {
    phash: asset.phash,
    maxDistance: options.maxDistance,
    excludeImageId: image.id,
    limit: SIMILAR_LIMIT,
  });
  return {
    items: rows.map((row) => ({
      id: row.id,
      distance: row.distance,
      url: originalUrl(services.config.publicBaseUrl, row, row),
    })),
    phash_status: phashStatus,
  };
}
