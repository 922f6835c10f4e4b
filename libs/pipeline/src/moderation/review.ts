import type { ModerationDecision } from '@renditions/db';
import { ConflictError } from '@renditions/errors';
import { getImageResource, loadImage } from '../images';
import type { ImageResource } from '../resource';
import type { Services } from '../services';
import { applyModerationDecision } from './verdict';

/**
 * An admin's verdict on an image (typically one the hook sent to `review`); it applies to every upload of the
 * same bytes. A reject takes the image down; a reject cannot be undone, its bytes being gone.
 * @throws {NotFoundError | GoneError} unknown or deleted image
 * @throws {ConflictError} allowing or reviewing an image that was rejected
 */
export async function decideModeration(
  services: Services,
  imageId: string,
  decision: ModerationDecision,
): Promise<ImageResource> {
  const { asset } = await loadImage(services, imageId);
  if (!(await applyModerationDecision(services, asset.id, decision))) {
    throw new ConflictError(`Image "${imageId}" was rejected and its bytes removed; the verdict can no longer change`);
  }
  return getImageResource(services, imageId);
}
