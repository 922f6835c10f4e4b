import { markRenditionsProcessing, markRenditionsReady } from '@renditions/db';
import { renderRenditions, type EncodedImage, type RenditionFormat, type RenditionSpec } from '@renditions/imaging';
import { storageKeys } from '../keys';
import { strongEtag } from '../tokens';
import { batchWhileBusy } from './batch-while-busy';
import { defineStage, type StageDefinition } from './definition';

/**
 * Rendition commits of one job start at least this far apart. A commit with its announcement is about ten queries
 * (~10 ms of the worker's JavaScript and the database's CPU), and a 12 MP asset's JPEG/WebP all encode within ~400 ms:
 * one commit per rendition spent more CPU on bookkeeping than some encodes take. A rendition waits at most this
 * long (plus the commit before it) to be announced; the first is never held back.
 */
const RENDITION_COMMIT_SPACING_MS = 100;

/**
 * Renders one queue's formats for an asset from its decoded base, shared with the asset's other stages. Each
 * rendition flips to `ready` as soon as its bytes are stored; a retry redoes only the ones that are not ready.
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
      // Renditions are stored and recorded as they are encoded, outside the scheduler (a write never holds a
      // core): the first at once, the next ones in batches (see RENDITION_COMMIT_SPACING_MS); renderRenditions
      // awaits every commit, so a failed write fails this job (to be retried), never the process.
      // The batch with the last rendition also finishes the stage, in the same transaction.
      let committed = 0;
      const commitRendered = batchWhileBusy<{ spec: RenditionSpec; output: EncodedImage }>(
        (batch) => {
          const stored = batch.map(({ spec, output }) => ({
            size: spec.size,
            format: spec.format,
            storageKey: storageKeys.rendition(asset.id, spec.size, spec.format),
            bytes: output.data.length,
            etag: strongEtag(output.data),
            output,
          }));
          committed += batch.length;
          return commit({
            objects: stored.map(({ storageKey, output }) => ({ key: storageKey, data: output.data, contentType: output.mime })),
            record: (tx) => markRenditionsReady(tx, asset.id, stored),
            announce: [...batch.map(() => 'image.rendition.ready' as const), 'image.updated'],
            completes: committed === specs.length,
          });
        },
        { spacingMs: RENDITION_COMMIT_SPACING_MS, expected: specs.length },
      );
      await renderRenditions(await base(), specs, (spec, output) => commitRendered({ spec, output }), { scheduler: cpu });
      return { outcome: 'done' };
    },
  });
}

/** AVIF costs ~20x more to encode than WebP or JPEG: its own queue, after the asset's cheap renditions. */
export const renderStages = [renderStage('render', ['jpg', 'webp'], []), renderStage('render-avif', ['avif'], ['render'])] as const;
