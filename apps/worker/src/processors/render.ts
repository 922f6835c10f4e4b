import { findAsset, markRenditionReady, markRenditionsProcessing } from '@renditions/db';
import { renderRenditions, type RenditionSpec } from '@renditions/imaging';
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
    let orphaned = 0;
    await renderRenditions(source, specs, async (spec, output) => {
      const key = storageKeys.rendition(sha256, spec.size, spec.format);
      await services.storage.put(key, output.data, { contentType: output.mime, contentLength: output.data.length });
      const recorded = await markRenditionReady(
        services.db,
        { sha256, size: spec.size, format: spec.format },
        { storageKey: key, bytes: output.data.length, etag: strongEtag(output.data) },
      );
      if (!recorded) {
        orphaned += 1;
        await services.storage.delete(key);
        return;
      }
      await announceAsset(services, sha256, ['image.rendition.ready', 'image.updated']);
    });
    return orphaned > 0 ? { outcome: 'skipped', detail: 'asset deleted or rejected while rendering' } : { outcome: 'done' };
  };
}
