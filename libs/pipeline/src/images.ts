import { findAsset, findImage, listRenditions, type Asset, type Image, type Rendition } from '@renditions/db';
import { ForbiddenError, GoneError, NotFoundError } from '@renditions/errors';
import { presentImage, type ImageResource } from './resource';
import type { Services } from './services';
import { deleteTokenMatches } from './tokens';

export interface ImageView {
  image: Image;
  asset: Asset;
  renditions: Rendition[];
}

/**
 * The image row of a live upload.
 * @throws {NotFoundError} unknown id (malformed or not)
 * @throws {GoneError} deleted
 */
export async function findLiveImage(services: Pick<Services, 'db'>, id: string): Promise<Image & { assetSha256: string }> {
  const image = await findImage(services.db, id);
  if (!image) throw new NotFoundError(`No image with id "${id}"`);
  if (image.deletedAt || !image.assetSha256) throw new GoneError(`Image "${id}" has been deleted`);
  return image as Image & { assetSha256: string };
}

/**
 * Loads a live image with its asset and renditions.
 * @throws {NotFoundError} unknown id (malformed or not)
 * @throws {GoneError} deleted
 */
export async function loadImage(services: Pick<Services, 'db'>, id: string): Promise<ImageView> {
  const image = await findLiveImage(services, id);
  const asset = await findAsset(services.db, image.assetSha256);
  if (!asset) throw new GoneError(`Image "${id}" has been deleted`);
  return { image, asset, renditions: await listRenditions(services.db, asset.sha256) };
}

export async function getImageResource(services: Pick<Services, 'db' | 'config'>, id: string): Promise<ImageResource> {
  const view = await loadImage(services, id);
  return presentImage(services.config.publicBaseUrl, view.image, view.asset, view.renditions);
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
