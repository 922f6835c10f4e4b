import {
  findAsset,
  findImage,
  forgetDerivedObjects,
  listLiveImagesOfAsset,
  listRenditions,
  markImageCleaned,
  markTakenDown,
  removeAssetRow,
  type Asset,
} from '@renditions/db';
import type { CleanupJobData, JobOutcome } from '@renditions/queue';
import { storageKeys } from './keys';
import { imageCachedCopies } from './public-urls';
import type { Services } from './services';

/**
 * Durable removal work, idempotent so a retry finishes what an interrupted run left. Throws while storage or
 * the CDN refuses, so the job is retried until they accept.
 */
export async function runCleanup(services: Services, data: CleanupJobData): Promise<JobOutcome> {
  return data.kind === 'takedown' ? takeDown(services, data.assetId) : cleanUpDeletedImage(services, data.imageId);
}

/**
 * A deleted upload: the CDN forgets its URLs, and when its asset is being deleted (it was the last upload),
 * every object under the generation's prefix goes, then the asset's rows.
 */
async function cleanUpDeletedImage(services: Services, imageId: string): Promise<JobOutcome> {
  const image = await findImage(services.db, imageId);
  if (!image?.deletedAt || image.cleanedAt) return { outcome: 'skipped', detail: 'nothing to clean up' };
  const asset = image.assetId ? await findAsset(services.db, image.assetId) : undefined;
  await services.cdn.purge(imageCachedCopies(services.config.publicBaseUrl, image.id, asset?.ext));
  if (asset?.deletingAt) {
    await removeObjects(services, asset.id, await recordedKeys(services, asset));
    await removeAssetRow(services.db, asset.id);
  }
  await markImageCleaned(services.db, image.id);
  return { outcome: 'done' };
}

/**
 * A rejected asset (the verdict alone already answers 451 everywhere): its rows forget the derived objects,
 * every stored object goes, and the CDN forgets every URL of its uploads. The asset row stays, so the API shows
 * `rejected` and the same bytes uploaded again are rejected too.
 */
async function takeDown(services: Services, assetId: string): Promise<JobOutcome> {
  const asset = await findAsset(services.db, assetId);
  if (!asset || asset.moderationVerdict !== 'reject' || asset.takenDownAt) return { outcome: 'skipped', detail: 'nothing to take down' };
  const keys = await recordedKeys(services, asset);
  await forgetDerivedObjects(services.db, assetId);
  await removeObjects(services, assetId, keys);
  const images = await listLiveImagesOfAsset(services.db, assetId);
  await services.cdn.purge(images.flatMap((image) => imageCachedCopies(services.config.publicBaseUrl, image.id, asset.ext)));
  await markTakenDown(services.db, assetId);
  return { outcome: 'done' };
}

async function recordedKeys(services: Services, asset: Asset): Promise<string[]> {
  const renditions = await listRenditions(services.db, asset.id);
  return [asset.originalKey, asset.strippedKey, ...renditions.map((rendition) => rendition.storageKey)].filter(
    (key): key is string => Boolean(key),
  );
}

/**
 * Everything under the generation's prefix (also what a killed job stored without recording), plus any key the
 * rows record elsewhere (assets stored before generations had prefixes).
 */
async function removeObjects(services: Services, assetId: string, recorded: string[]): Promise<void> {
  const prefix = storageKeys.prefix(assetId);
  await services.storage.deletePrefix(prefix);
  await Promise.all(recorded.filter((key) => !key.startsWith(prefix)).map((key) => services.storage.delete(key)));
}
