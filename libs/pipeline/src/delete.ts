import { countLiveImagesOfAsset, deleteAsset, findAsset, listRenditions, lockAsset, markImageDeleted } from '@renditions/db';
import { asDependencyError } from './errors';
import { assertOwnerAccess, loadImage, type OwnerAccess } from './images';
import { announceImage } from './notify';
import type { Services } from './services';

/**
 * Deletes one upload. Its asset (stored objects, renditions, pending jobs) goes only when no other live upload
 * shares the bytes. The image row stays as a tombstone so the API answers 410 afterwards.
 * @throws {NotFoundError | GoneError | ForbiddenError}
 */
export async function deleteImage(
  services: Services,
  id: string,
  access: OwnerAccess,
): Promise<void> {
  const before = await loadImage(services, id);
  assertOwnerAccess(before.image, access, 'delete this image');
  const sha256 = before.asset.sha256;

  const assetRemoved = await services.db
    .transaction(async (tx) => {
      await lockAsset(tx, sha256);
      await markImageDeleted(tx, id);
      if ((await countLiveImagesOfAsset(tx, sha256)) > 0) return false;
      const asset = await findAsset(tx, sha256);
      if (!asset) return false;
      const renditions = await listRenditions(tx, sha256);
      await deleteAsset(tx, sha256);
      // Deleted while the lock is held, so a concurrent upload of the same bytes waits and then stores afresh.
      const keys = [asset.originalKey, asset.strippedKey, ...renditions.map((r) => r.storageKey)];
      await Promise.all(keys.filter((key): key is string => Boolean(key)).map((key) => services.storage.delete(key)));
      return true;
    })
    .catch((error: unknown) => {
      throw asDependencyError(error, 'The database or storage');
    });

  await announceImage(services, before.image, before.asset, before.renditions, ['image.deleted']);
  if (assetRemoved) {
    await services.queues.dropAsset(sha256).catch((error: unknown) => {
      services.logger.warn({ err: error, sha256 }, 'could not drop pending jobs; they will find the asset gone');
    });
  }
}
