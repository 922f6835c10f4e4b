import { createReadStream } from 'node:fs';
import {
  findLiveAssetBySha256,
  insertAsset,
  insertImage,
  isLiveDuplicate,
  lockLiveAsset,
  startNextRun,
  type Asset,
} from '@renditions/db';
import { SETTLED_EVENT_TYPE } from '@renditions/events';
import { InvalidRequestError, MissingFileError } from '@renditions/errors';
import { planRenditions, probeImage, type ImageProbe } from '@renditions/imaging';
import { assertCallbackUrlAllowed } from './callback-url';
import { asDependencyError } from './errors';
import { enqueueFlow } from './flow-outbox';
import { getImageResource, loadAssetView } from './images';
import { storageKeys } from './keys';
import { deliverAnnouncement, NOTHING_TO_ANNOUNCE, recordAnnouncement, type Announcement } from './notify';
import type { ImageResource } from './resource';
import type { Services } from './services';
import { STAGE_NAMES } from './stages';
import { hashDeleteToken, newAssetId, newDeleteToken, newImageId } from './tokens';

/** A file the HTTP layer has received in full: spooled to disk, its size and SHA-256 computed on the way in. */
export interface ReceivedFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface UploadRequest {
  file: ReceivedFile;
  title?: string;
  /** Imgur API v3's description; the native API has none. */
  description?: string;
  callbackUrl?: string;
}

export interface UploadResult {
  resource: ImageResource;
  deleteToken: string;
  /** True when identical bytes were already stored: nothing new was stored or processed. */
  deduplicated: boolean;
}

interface NewImageFields {
  id: string;
  title: string | null;
  description: string | null;
  callbackUrl: string | null;
  deleteTokenHash: string;
}

/** What recording the upload decided: the asset it joined, and whether its flow must be (re)enqueued. */
interface Attached {
  asset: Asset;
  created: boolean;
  /** The run to enqueue: a new asset's first, a failed asset's next, or one never handed to Redis. */
  runToEnqueue?: number;
  announcement: Announcement;
}

/**
 * Validates an upload, stores the original durably, then records the image: on the live generation of the same
 * bytes when there is one, else on a new generation with its 18 planned renditions. The object is written
 * before any transaction opens, so a stalled store never holds a database connection; if recording fails, the
 * object is removed again (or, if this process dies first, swept). A failed image's bytes uploaded again run its
 * unfinished work again.
 * @throws {MissingFileError} empty file
 * @throws {InvalidRequestError} a text field with a NUL byte; a callback_url that does not reach a public address
 * @throws {UnsupportedTypeError | InvalidImageError | TooManyPixelsError} from validation
 * @throws {UnavailableError} when PostgreSQL or storage is down or stalled
 */
export async function uploadImage(services: Services, request: UploadRequest): Promise<UploadResult> {
  const { file } = request;
  if (file.bytes === 0) throw new MissingFileError('The uploaded file is empty');
  assertStorableText('title', request.title);
  assertStorableText('description', request.description);
  assertStorableText('callback_url', request.callbackUrl);
  if (request.callbackUrl) await assertCallbackUrlAllowed(services, request.callbackUrl);
  const { maxInputPixels, maxAnimationFrames, maxAnimationPixels } = services.config.limits;
  const probe = await probeImage(file.path, { maxInputPixels, maxAnimationFrames, maxAnimationPixels });
  const deleteToken = newDeleteToken();
  const image: NewImageFields = {
    id: newImageId(),
    title: request.title ?? null,
    description: request.description ?? null,
    callbackUrl: request.callbackUrl ?? null,
    deleteTokenHash: hashDeleteToken(deleteToken),
  };

  const attached = await recordUpload(services, file, probe, image).catch((error: unknown) => {
    throw asDependencyError(error, 'The database or storage');
  });
  await deliverAnnouncement(services, attached.announcement);
  if (attached.runToEnqueue !== undefined) await enqueueFlow(services, { assetId: attached.asset.id, run: attached.runToEnqueue });
  return { resource: await getImageResource(services, image.id), deleteToken, deduplicated: !attached.created };
}

async function recordUpload(services: Services, file: ReceivedFile, probe: ImageProbe, image: NewImageFields): Promise<Attached> {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const joined = await joinLiveAsset(services, file.sha256, image);
    if (joined) return joined;
    try {
      return await createGeneration(services, file, probe, image);
    } catch (error) {
      // Another upload of the same bytes created the live generation first: join it instead.
      if (!isLiveDuplicate(error)) throw error;
    }
  }
  throw new Error(`could not record an upload of ${file.sha256}: the live generation kept changing`);
}

/** Attaches the image to the live generation of these bytes, if there is one that is not being deleted. */
async function joinLiveAsset(services: Services, sha256: string, image: NewImageFields): Promise<Attached | undefined> {
  const live = await findLiveAssetBySha256(services.db, sha256);
  if (!live) return undefined;
  return services.db.transaction(async (tx) => {
    const asset = await lockLiveAsset(tx, live.id);
    // Its last upload was deleted meanwhile: this upload starts a new generation instead.
    if (!asset) return undefined;
    const row = await insertImage(tx, { ...image, assetId: asset.id });
    if (asset.status === 'failed') {
      return { asset, created: false, runToEnqueue: await startNextRun(tx, asset.id), announcement: NOTHING_TO_ANNOUNCE };
    }
    const neverEnqueued = !asset.settledAt && !asset.flowEnqueuedAt;
    // Bytes that settled already: no flow runs for this upload, so its settling event comes from here.
    const view = asset.settledAt ? await loadAssetView(tx, asset.id) : undefined;
    const announcement = view
      ? await recordAnnouncement(tx, services, [row], view, [SETTLED_EVENT_TYPE[asset.status as keyof typeof SETTLED_EVENT_TYPE]])
      : NOTHING_TO_ANNOUNCE;
    return { asset, created: false, runToEnqueue: neverEnqueued ? asset.flowRun : undefined, announcement };
  });
}

/** A new generation: the original is stored first, outside any transaction, then recorded with its image. */
async function createGeneration(services: Services, file: ReceivedFile, probe: ImageProbe, image: NewImageFields): Promise<Attached> {
  const assetId = newAssetId();
  const originalKey = storageKeys.original(assetId);
  await services.storage.put(originalKey, createReadStream(file.path), { contentType: probe.mime, contentLength: file.bytes });
  try {
    const asset = await services.db.transaction(async (tx) => {
      const created = await insertAsset(
        tx,
        {
          id: assetId,
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
        },
        planRenditions(probe.width, probe.height),
        STAGE_NAMES,
      );
      await insertImage(tx, { ...image, assetId });
      return created;
    });
    return { asset, created: true, runToEnqueue: asset.flowRun, announcement: NOTHING_TO_ANNOUNCE };
  } catch (error) {
    // Nothing refers to the object; if this delete fails too, the sweeper removes it after SWEEP_GRACE_MS.
    await services.storage.delete(originalKey).catch((deleteError: unknown) => {
      services.logger.warn({ err: deleteError, key: originalKey }, 'could not remove an unrecorded original; the sweeper will');
    });
    throw error;
  }
}

/** PostgreSQL cannot store a NUL byte in text: refuse it as the client's mistake before anything is stored. */
function assertStorableText(field: string, value: string | undefined): void {
  if (value?.includes('\u0000')) throw new InvalidRequestError(`Expected ${field} without NUL bytes`);
}
