import { markRenditionReady, markRenditionsProcessing } from '@renditions/db';
import { renderRenditions, type RenditionFormat, type RenditionSpec } from '@renditions/imaging';
import { storageKeys } from '../keys';
import { strongEtag } from '../tokens';
import { defineStage, type StageDefinition } from './definition';

/**
 * Renders one queue's formats for an asset from its decoded base, shared with the asset's other stages. Each rendition flips to `ready` the moment its
 * bytes are stored; a retry redoes only the ones that are not ready yet.
 */
function renderStage<const Name extends string>(
  name: Name,
  formats: readonly RenditionFormat[],
  after: readonly string[],
): StageDefinition<Name> {
  return defineStage({
    name,
    attempts: 5,
    after,
    failsImage: true,
    renders: formats,
    async run({ services, asset, base, cpu, commit }) {
      const pending = await markRenditionsProcessing(services.db, asset.id, formats);
      if (pending.length === 0) return { outcome: 'skipped', detail: 'all renditions ready' };
      const specs = pending.map(({ size, format, width, height }) => ({ size, format, width, height }) as RenditionSpec);
      // Each rendition is stored and recorded the moment it is encoded, outside the scheduler (a write never
      // holds a core); renderRenditions awaits every one, so a failed write fails this job, never the process.
      await renderRenditions(
        await base(),
        specs,
        (spec, output) => {
          const key = storageKeys.rendition(asset.id, spec.size, spec.format);
          return commit({
            objects: [{ key, data: output.data, contentType: output.mime }],
            record: (tx) =>
              markRenditionReady(
                tx,
                { assetId: asset.id, size: spec.size, format: spec.format },
                { storageKey: key, bytes: output.data.length, etag: strongEtag(output.data) },
              ),
            announce: ['image.rendition.ready', 'image.updated'],
          });
        },
        { scheduler: cpu },
      );
      return { outcome: 'done' };
    },
  });
}

/** AVIF costs ~20x more to encode than WebP or JPEG: its own queue, after the asset's cheap renditions. */
export const renderStages = [renderStage('render', ['jpg', 'webp'], []), renderStage('render-avif', ['avif'], ['render'])] as const;
