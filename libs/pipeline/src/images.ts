import { findAsset, findImage, listRenditions, listStages, type Executor, type Image } from '@renditions/db';
import { ForbiddenError, GoneError, NotFoundError } from '@renditions/errors';
import { presentImage, type AssetView, type ImageResource } from './resource';
import type { Services } from './services';
import { deleteTokenMatches } from './tokens';

export interface ImageView extends AssetView {
  image: Image;
}

/**
 * The image row of a live upload.
 * @throws {NotFoundError} unknown id (malformed or not)
 * @throws {GoneError} deleted
 */
export async function findLiveImage(services: { db: Executor }, id: string): Promise<Image & { assetId: string }> {
  const image = await findImage(services.db, id);
  if (!image) throw new NotFoundError(`No image with id "${id}"`);
  if (image.deletedAt || !image.assetId) throw new GoneError(`Image "${id}" has been deleted`);
  return image as Image & { assetId: string };
}

/** An asset with its stages and renditions, read through whichever executor the caller holds. */
export async function loadAssetView(db: Executor, assetId: string): Promise<AssetView | undefined> {
  const [asset, stages, renditions] = await Promise.all([findAsset(db, assetId), listStages(db, assetId), listRenditions(db, assetId)]);
  return asset && { asset, stages, renditions };
}

/**
 * Loads a live image with its asset, stages and renditions, all as of one moment: read apart, a stage could show
 * ready beside an asset read before that stage's commit recorded its result.
 * @throws {NotFoundError} unknown id (malformed or not)
 * @throws {GoneError} deleted
 */
export async function loadImage(services: Pick<Services, 'db'>, id: string): Promise<ImageView> {
  return services.db.transaction(
    async (tx) => {
      const image = await findLiveImage({ db: tx }, id);
      const view = await loadAssetView(tx, image.assetId);
      if (!view) throw new GoneError(`Image "${id}" has been deleted`);
      return { image, ...view };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}

export async function getImageResource(services: Pick<Services, 'db' | 'config'>, id: string): Promise<ImageResource> {
  const view = await loadImage(services, id);
  return presentImage(services.config.publicBaseUrl, view.image, view);
}

/** What proves a request comes from the uploader (the delete token) or an admin. */
export interface OwnerAccess {
  deleteToken?: string;
  isAdmin?: boolean;
}

/**
 * The delete token is the uploader's only credential: it guards everything private to the upload.
 * @throws {ForbiddenError} when neither a matching delete token nor admin rights are given
 */
export function assertOwnerAccess(image: Image, access: OwnerAccess, action: string): void {
  if (access.isAdmin) return;
  if (!access.deleteToken || !deleteTokenMatches(access.deleteToken, image.deleteTokenHash)) {
    throw new ForbiddenError(`A valid X-Delete-Token header is required to ${action}`);
  }
}
