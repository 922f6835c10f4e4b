import { findAsset, markRenditionReady, markRenditionsProcessing } from '@renditions/db';
import { renderRenditions, type EncodedImage, type RenditionSpec } from '@renditions/imaging';
import { announceAsset, storageKeys, strongEtag, type Services } from '@renditions/pipeline';
import { RENDER_QUEUE_FORMATS, type ProcessorFn } from '@renditions/queue';

type RenderQueue = keyof typeof RENDER_QUEUE_FORMATS;

/**
 * Renders one queue's formats for an asset from a single decode. Each rendition flips to `ready` the moment its
 * bytes are stored; a retry redoes only the ones that are not ready yet.
 */
export function createRenderProcessor<Q extends RenderQueue>(services: Services, queue: Q): ProcessorFn<Q> {
  return async (job) => {
    const { sha256 } = job.data;
    const asset = await findAsset(services.db, sha256);
    if (!asset) return { outcome: 'skipped', detail: 'asset deleted' };
    if (asset.moderationVerdict === 'reject') return { outcome: 'skipped', detail: 'rejected by moderation' };
    const pending = await markRenditionsProcessing(services.db, sha256, [...RENDER_QUEUE_FORMATS[queue]]);
    if (pending.length === 0) return { outcome: 'skipped', detail: 'all renditions ready' };
    const specs: RenditionSpec[] = pending.map(({ size, format, width, height }) => ({
      size,
      format,
      width,
      height,
    })) as RenditionSpec[];
    const source = await services.storage.getBuffer(asset.originalKey);
    // Storing, recording and announcing a rendition runs beside the next encode instead of holding an encode lane.
    const persisting: Promise<boolean>[] = [];
    try {
      await renderRenditions(source, specs, async (spec, output) => {
        persisting.push(persistRendition(services, sha256, spec, output));
      });
    } finally {
      await Promise.allSettled(persisting);
    }
    const recorded = await Promise.all(persisting);
    return recorded.every(Boolean)
      ? { outcome: 'done' }
      : { outcome: 'skipped', detail: 'asset deleted or rejected while rendering' };
  };
}

/** Stores one rendition and flips it to ready; false when the asset went away meanwhile (its bytes are removed). */
async function persistRendition(
  services: Services,
  sha256: string,
  spec: RenditionSpec,
  output: EncodedImage,
): Promise<boolean> {
  const key = storageKeys.rendition(sha256, spec.size, spec.format);
  await services.storage.put(key, output.data, { contentType: output.mime, contentLength: output.data.length });
  const recorded = await markRenditionReady(
    services.db,
    { sha256, size: spec.size, format: spec.format },
    { storageKey: key, bytes: output.data.length, etag: strongEtag(output.data) },
  );
  if (!recorded) {
    await services.storage.delete(key);
    return false;
  }
  await announceAsset(services, sha256, ['image.rendition.ready', 'image.updated']);
  return true;
}
