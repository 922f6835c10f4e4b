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
import { loadAssetView, type ImageView } from './images';
import { storageKeys } from './keys';
import { deliverAnnouncement, NOTHING_TO_ANNOUNCE, recordAnnouncement, type Announcement } from './notify';
import { presentImage, type ImageResource } from './resource';
import type { Services } from './services';
import { STAGE_NAMES } from './stages';
import { hashDeleteToken, newAssetId, newDeleteToken, newImageId } from './tokens';

/** A file the HTTP layer has received in full: spooled to disk, its size and SHA-256 computed on the way in. */
export interface ReceivedFile {
  path: string;
  bytes: number;
  sha256: string;
  /** For a JPEG, the skeleton a JpegSkeletonScanner built on the way in: validation then reads no more of the file. */
  jpegSkeleton?: Buffer;
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
  /** What the resource was presented from, as recorded: for an answer in another shape (Imgur's) without reading it back. */
  view: ImageView;
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
  created: boolean;
  /** The image and its asset as the recording transaction left them. */
  view: ImageView;
  /** The run to enqueue: a new asset's first, a failed asset's next, or one never handed to Redis. */
  runToEnqueue?: number;
  announcement: Announcement;
}

/** The live generation of the uploaded bytes, looked up while the upload is validated; a failure is kept for later. */
type LiveLookup = Promise<{ ok: true; asset: Asset | undefined } | { ok: false; error: unknown }>;

/**
 * Validates an upload, stores the original durably, then records the image: on the live generation of the same
 * bytes when there is one, else on a new generation with its 18 planned renditions. The object is written
 * before any transaction opens, so a stalled store never holds a database connection; if recording fails, the
 * object is removed again (or, if this process dies first, swept). A failed image's bytes uploaded again run its
 * unfinished work again. The flow is handed to Redis after this returns: only what the 201 promises (the original
 * stored and recorded) is waited for; a flow not enqueued stays in the outbox for the reconciler.
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
  // Validation may decode the whole image (~50 ms for 12 MP that its structure cannot vouch for): the lookup that
  // recording starts with runs meanwhile. Its outcome is used only once the file is valid, so a refused file is
  // refused whatever the database does.
  const live: LiveLookup = findLiveAssetBySha256(services.db, file.sha256).then(
    (asset) => ({ ok: true, asset }),
    (error: unknown) => ({ ok: false, error }),
  );
  const probe = await probeImage(file.path, { maxInputPixels, maxAnimationFrames, maxAnimationPixels }, { jpegSkeleton: file.jpegSkeleton });
  const deleteToken = newDeleteToken();
  const image: NewImageFields = {
    id: newImageId(),
    title: request.title ?? null,
    description: request.description ?? null,
    callbackUrl: request.callbackUrl ?? null,
    deleteTokenHash: hashDeleteToken(deleteToken),
  };

  const attached = await recordUpload(services, file, probe, image, live).catch((error: unknown) => {
    throw asDependencyError(error, 'The database or storage');
  });
  void handOver(services, attached);
  const { view } = attached;
  return { resource: presentImage(services.config.publicBaseUrl, view.image, view), view, deleteToken, deduplicated: !attached.created };
}

/** After the commit: the announcement and the flow. Both fall back to an outbox on failure, so this never throws. */
async function handOver(services: Services, attached: Attached): Promise<void> {
  await deliverAnnouncement(services, attached.announcement);
  if (attached.runToEnqueue !== undefined) await enqueueFlow(services, { assetId: attached.view.asset.id, run: attached.runToEnqueue });
}

async function recordUpload(
  services: Services,
  file: ReceivedFile,
  probe: ImageProbe,
  image: NewImageFields,
  firstLookup: LiveLookup,
): Promise<Attached> {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const live = attempt === 0 ? await lookedUp(firstLookup) : await findLiveAssetBySha256(services.db, file.sha256);
    const joined = live && (await joinLiveAsset(services, live, image));
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

async function lookedUp(lookup: LiveLookup): Promise<Asset | undefined> {
  const outcome = await lookup;
  if (!outcome.ok) throw outcome.error;
  return outcome.asset;
}

/** Attaches the image to the live generation of these bytes, unless it has started being deleted meanwhile. */
async function joinLiveAsset(services: Services, live: Asset, image: NewImageFields): Promise<Attached | undefined> {
  return services.db.transaction(async (tx) => {
    const asset = await lockLiveAsset(tx, live.id);
    // Its last upload was deleted meanwhile: this upload starts a new generation instead.
    if (!asset) return undefined;
    const row = await insertImage(tx, { ...image, assetId: asset.id });
    const failed = asset.status === 'failed';
    const runToEnqueue = failed ? await startNextRun(tx, asset.id) : !asset.settledAt && !asset.flowEnqueuedAt ? asset.flowRun : undefined;
    const view = await loadAssetView(tx, asset.id);
    if (!view) throw new Error(`asset ${asset.id} vanished while locked`);
    // Bytes that settled already: no flow runs for this upload, so its settling event comes from here.
    const announcement =
      !failed && asset.settledAt
        ? await recordAnnouncement(tx, services, [row], view, [SETTLED_EVENT_TYPE[asset.status as keyof typeof SETTLED_EVENT_TYPE]])
        : NOTHING_TO_ANNOUNCE;
    return { created: false, view: { image: row, ...view }, runToEnqueue, announcement };
  });
}

/** A new generation: the original is stored first, outside any transaction, then recorded with its image. */
async function createGeneration(services: Services, file: ReceivedFile, probe: ImageProbe, image: NewImageFields): Promise<Attached> {
  const assetId = newAssetId();
  const originalKey = storageKeys.original(assetId);
  await services.storage.putFile(originalKey, file.path, { contentType: probe.mime, contentLength: file.bytes });
  try {
    const view = await services.db.transaction(async (tx) => {
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
      return { image: await insertImage(tx, { ...image, assetId }), ...created };
    });
    return { created: true, view, runToEnqueue: view.asset.flowRun, announcement: NOTHING_TO_ANNOUNCE };
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
