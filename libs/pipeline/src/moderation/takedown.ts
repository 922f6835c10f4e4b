import {
  findAsset,
  forgetDerivedObjects,
  listLiveImagesOfAsset,
  listRenditions,
  settleAsset,
  type Asset,
  type Image,
  type Rendition,
} from '@renditions/db';
import { storageKeys } from '../keys';
import { announceAsset } from '../notify';
import { presentImage } from '../resource';
import { EXT_ALIASES } from '../serve';
import type { Services } from '../services';

/**
 * Every object an asset may have in storage. The deterministic keys, not only those the rows name: a job that is
 * still running may have stored an object it has not recorded yet (recording it afterwards is refused).
 */
export function assetObjectKeys(asset: Asset, renditions: Rendition[]): string[] {
  const keys = [
    asset.originalKey,
    asset.strippedKey,
    storageKeys.stripped(asset.sha256, asset.ext),
    ...renditions.flatMap((r) => [r.storageKey, storageKeys.rendition(asset.sha256, r.size, r.format)]),
  ];
  return [...new Set(keys.filter((key): key is string => Boolean(key)))];
}

/** Every URL a CDN may have cached for one upload: the original under each spelling of its extension, and the 18 renditions. */
export function imagePublicUrls(baseUrl: string, image: Image, asset: Asset, renditions: Rendition[]): string[] {
  const resource = presentImage(baseUrl, image, asset, renditions);
  const aliases = Object.keys(EXT_ALIASES).filter((alias) => EXT_ALIASES[alias] === asset.ext);
  return [
    resource.url,
    ...aliases.map((alias) => `${baseUrl}/i/${image.id}.${alias}`),
    ...resource.renditions.map((rendition) => rendition.url),
  ];
}

/**
 * Takes a rejected asset down everywhere, once its verdict is recorded (which alone makes every CDN route answer
 * 451): its stored bytes go, the CDN forgets its URLs, and it settles as `rejected`. Idempotent, so a retry
 * finishes what an interrupted run left. The asset row stays, so the API shows `rejected` and an upload of the
 * same bytes is rejected too. Jobs of its flow that have not run yet are not removed: BullMQ cannot remove a flow
 * while one of its jobs runs (this one may be the moderation job), so each job skips a rejected asset instead.
 */
export async function takeDownAsset(services: Services, sha256: string): Promise<void> {
  const asset = await findAsset(services.db, sha256);
  if (!asset) return;
  const [images, renditions] = await Promise.all([
    listLiveImagesOfAsset(services.db, sha256),
    listRenditions(services.db, sha256),
  ]);
  await forgetDerivedObjects(services.db, sha256);
  await Promise.all(assetObjectKeys(asset, renditions).map((key) => services.storage.delete(key)));
  const baseUrl = services.config.publicBaseUrl;
  await services.cdn.purge(images.flatMap((image) => imagePublicUrls(baseUrl, image, asset, renditions)));
  // The settle job announces too, if it gets there first; whoever settles the asset announces, once.
  if (await settleAsset(services.db, sha256, 'rejected')) {
    await announceAsset(services, sha256, ['image.updated', 'image.rejected']);
  }
}
