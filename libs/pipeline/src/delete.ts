import { countLiveImagesOfAsset, lockLiveAsset, markAssetDeleting, markImageDeleted } from '@renditions/db';
import { GoneError } from '@renditions/errors';
import { requestCleanup } from './cleanup-request';
import { asDependencyError } from './errors';
import { assertOwnerAccess, loadImage, type OwnerAccess } from './images';
import { deliverAnnouncement, recordAnnouncement } from './notify';
import type { Services } from './services';

/**
 * Deletes one upload, at once: one transaction tombstones the image (410 from now on, its URLs 404) and, when
 * it was the last live upload of its asset, marks the asset as being deleted, so nothing revives it: the same
 * bytes uploaded from now on start a new generation. The bytes are removed by durable cleanup work (queued
 * here, or by the reconciler if Redis is down) that retries until storage accepts. No storage call is made here.
 * @throws {NotFoundError | GoneError | ForbiddenError}
 */
export async function deleteImage(services: Services, id: string, access: OwnerAccess): Promise<void> {
  const before = await loadImage(services, id);
  assertOwnerAccess(before.image, access, 'delete this image');
  const assetId = before.asset.id;

  const announcement = await services.db
    .transaction(async (tx) => {
      // The asset's lock orders this delete with uploads joining it and with stages recording on it.
      const asset = await lockLiveAsset(tx, assetId);
      if (!(await markImageDeleted(tx, id))) throw new GoneError(`Image "${id}" has been deleted`);
      if (asset && (await countLiveImagesOfAsset(tx, assetId)) === 0) await markAssetDeleting(tx, assetId);
      // The image as loaded above: the resource an event carries shows nothing the tombstone changed.
      return recordAnnouncement(tx, services, [before.image], before, ['image.deleted']);
    })
    .catch((error: unknown) => {
      throw asDependencyError(error, 'The database');
    });

  await deliverAnnouncement(services, announcement);
  await requestCleanup(services, { kind: 'deleted-image', imageId: id });
}
