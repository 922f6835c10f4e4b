import { createReadStream } from 'node:fs';
import { findAsset, insertAsset, insertImage, lockAsset, markFlowEnqueued, type Asset, type Executor } from '@renditions/db';
import { MissingFileError } from '@renditions/errors';
import { planRenditions, probeImage, type ImageProbe } from '@renditions/imaging';
import { assertCallbackUrlAllowed } from './callback-url';
import { asDependencyError } from './errors';
import { storageKeys } from './keys';
import { getImageResource } from './images';
import { announceIfSettled } from './notify';
import type { ImageResource } from './resource';
import type { Services } from './services';
import { hashDeleteToken, newDeleteToken, newImageId } from './tokens';

/** A file the HTTP layer has received in full: spooled to disk, its size and SHA-256 computed on the way in. */
export interface ReceivedFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface UploadRequest {
  file: ReceivedFile;
  title?: string;
  callbackUrl?: string;
}

export interface UploadResult {
  resource: ImageResource;
  deleteToken: string;
  /** True when identical bytes were already stored: nothing new was stored or processed. */
  deduplicated: boolean;
}

/**
 * Validates an upload, stores the original durably, records the image with its 18 planned renditions in one
 * transaction and enqueues the processing flow. Nothing is stored or recorded for a rejected file.
 * @throws {MissingFileError} empty file
 * @throws {InvalidRequestError} a callback_url that does not reach a public address, unless private ones are allowed
 * @throws {UnsupportedTypeError | InvalidImageError | TooManyPixelsError} from validation
 * @throws {UnavailableError} when PostgreSQL or storage is down
 */
export async function uploadImage(services: Services, request: UploadRequest): Promise<UploadResult> {
  const { file } = request;
  if (file.bytes === 0) throw new MissingFileError('The uploaded file is empty');
  if (request.callbackUrl) await assertCallbackUrlAllowed(services, request.callbackUrl);
  const { maxInputPixels, maxAnimationFrames, maxAnimationPixels } = services.config.limits;
  const probe = await probeImage(file.path, { maxInputPixels, maxAnimationFrames, maxAnimationPixels });
  const deleteToken = newDeleteToken();
  const id = newImageId();

  const { asset, created } = await services.db
    .transaction(async (tx) => {
      await lockAsset(tx, file.sha256);
      const existing = await findAsset(tx, file.sha256);
      const stored = existing ?? (await storeNewAsset(services, tx, file, probe));
      await insertImage(tx, {
        id,
        assetSha256: file.sha256,
        title: request.title ?? null,
        callbackUrl: request.callbackUrl ?? null,
        deleteTokenHash: hashDeleteToken(deleteToken),
      });
      return { asset: stored, created: !existing };
    })
    .catch((error: unknown) => {
      throw asDependencyError(error, 'The database or storage');
    });

  if (!asset.settledAt && (created || !asset.flowEnqueuedAt)) await tryEnqueue(services, asset.sha256);
  if (!created && request.callbackUrl) await announceIfSettled(services, id);

  return { resource: await getImageResource(services, id), deleteToken, deduplicated: !created };
}

async function storeNewAsset(
  services: Services,
  tx: Executor,
  file: ReceivedFile,
  probe: ImageProbe,
): Promise<Asset> {
  const originalKey = storageKeys.original(file.sha256);
  await services.storage.put(originalKey, createReadStream(file.path), {
    contentType: probe.mime,
    contentLength: file.bytes,
  });
  const asset = {
    sha256: file.sha256,
    format: probe.format,
    mime: probe.mime,
    ext: probe.ext,
    width: probe.width,
    height: probe.height,
    orientation: probe.orientation,
    pages: probe.pages,
    bytes: file.bytes,
    originalKey,
  };
  try {
    await insertAsset(
      tx,
      asset,
      planRenditions(probe.width, probe.height).map((spec) => ({ assetSha256: file.sha256, ...spec })),
    );
  } catch (error) {
    // Still under the asset lock: nobody else can have started to rely on this object.
    await services.storage.delete(originalKey).catch(() => undefined);
    throw error;
  }
  const stored = await findAsset(tx, file.sha256);
  return stored as Asset;
}

/** Hands the flow to BullMQ; when Redis is down the asset stays in the outbox and the reconciler enqueues it later. */
async function tryEnqueue(services: Services, sha256: string): Promise<void> {
  try {
    await services.queues.enqueueAsset(sha256);
    await markFlowEnqueued(services.db, sha256);
  } catch (error) {
    services.logger.warn({ err: error, sha256 }, 'could not enqueue the flow now; the reconciler will retry');
  }
}
