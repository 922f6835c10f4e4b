import { startNextRun } from '@renditions/db';
import { ConflictError } from '@renditions/errors';
import { asDependencyError } from './errors';
import { enqueueFlow } from './flow-outbox';
import { assertOwnerAccess, getImageResource, loadImage, type OwnerAccess } from './images';
import type { ImageResource } from './resource';
import type { Services } from './services';

/**
 * Runs a `failed` image's unfinished work again: what failed is pending again (what is ready stays ready) in
 * a new run of its flow, with fresh job ids. It applies to every upload of the same bytes.
 * @throws {NotFoundError | GoneError | ForbiddenError}
 * @throws {ConflictError} when the image has not settled as `failed` (still processing, ready, or rejected)
 */
export async function retryImage(services: Services, id: string, access: OwnerAccess): Promise<ImageResource> {
  const { image, asset } = await loadImage(services, id);
  assertOwnerAccess(image, access, 'retry this image');
  const run = await services.db
    .transaction((tx) => startNextRun(tx, asset.id))
    .catch((error: unknown) => {
      throw asDependencyError(error, 'The database');
    });
  if (run === undefined) {
    throw new ConflictError(`Image "${id}" is ${asset.status}; only an image that settled as failed can be retried`);
  }
  await enqueueFlow(services, { assetId: asset.id, run });
  return getImageResource(services, id);
}
