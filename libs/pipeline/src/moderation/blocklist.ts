import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { deleteBlockedHash, insertBlockedHash, listBlockedHashes, type BlockedHash } from '@renditions/db';
import { ConflictError, NotFoundError } from '@renditions/errors';
import { phashFromHex, phashToHex } from '@renditions/imaging';
import { loadImage } from '../images';
import type { Services } from '../services';

/** A blocklist entry as the admin API shows it. */
export const blockedHashResourceSchema = z
  .object({
    id: z.uuid(),
    phash: z.string().regex(/^[0-9a-f]{16}$/),
    image_id: z.string().nullable().meta({ description: 'The image whose hash was blocked, when blocked by image' }),
    reason: z.string().nullable(),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'BlocklistEntry' });

export type BlockedHashResource = z.infer<typeof blockedHashResourceSchema>;

/** Block a hash given as 16 hex digits, or the hash of an uploaded image. */
export type BlockRequest = ({ phash: string } | { imageId: string }) & { reason?: string };

export function presentBlockedHash(entry: BlockedHash): BlockedHashResource {
  return {
    id: entry.id,
    phash: phashToHex(entry.phash),
    image_id: entry.sourceImageId,
    reason: entry.reason,
    created_at: entry.createdAt.toISOString(),
  };
}

/**
 * Adds a hash to the blocklist: uploads whose hash is within the moderation stage's distance of it are rejected
 * from then on, without asking the hook. Images already accepted stay; rejecting one is a separate decision.
 * @throws {NotFoundError | GoneError} by image id: unknown or deleted image
 * @throws {ConflictError} by image id: its hash is not computed yet (or could not be)
 * @throws {RangeError} a hash that is not 16 hex digits (the HTTP layer validates first)
 */
export async function blockHash(services: Services, request: BlockRequest): Promise<BlockedHashResource> {
  let phash: bigint;
  let sourceImageId: string | null = null;
  if ('imageId' in request) {
    const { image, asset, stages } = await loadImage(services, request.imageId);
    if (asset.phash === null) {
      throw new ConflictError(
        `Image "${image.id}" has no perceptual hash yet (stages.phash is ${stages.find((stage) => stage.stage === 'phash')?.status}); block it once it is ready`,
      );
    }
    phash = asset.phash;
    sourceImageId = image.id;
  } else {
    phash = phashFromHex(request.phash);
  }
  const entry = await insertBlockedHash(services.db, {
    id: randomUUID(),
    // Stored like every hash: PostgreSQL's signed bigint, the same 64 bits.
    phash: BigInt.asIntN(64, phash),
    sourceImageId,
    reason: request.reason ?? null,
  });
  return presentBlockedHash(entry);
}

export async function listBlocklist(services: Services): Promise<BlockedHashResource[]> {
  return (await listBlockedHashes(services.db)).map(presentBlockedHash);
}

/** @throws {NotFoundError} no such entry */
export async function unblockHash(services: Services, id: string): Promise<void> {
  if (!(await deleteBlockedHash(services.db, id))) throw new NotFoundError(`No blocklist entry with id "${id}"`);
}
