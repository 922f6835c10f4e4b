import {
  dropReprocessRequests,
  findAsset,
  finishReprocessPurge,
  finishUnchangedRendition,
  listLiveImagesOfAsset,
  listReprocessRenditions,
  recordReprocessedRendition,
  type Asset,
  type Rendition,
} from '@renditions/db';
import { planRenditions, renderRenditions, type RenditionFormat } from '@renditions/imaging';
import { UnrecoverableError, type Job, type JobOutcome, type ReprocessJobData } from '@renditions/queue';
import { storageKeys } from './keys';
import { reRenderedCachedCopies } from './public-urls';
import type { Services } from './services';
import type { StageDefinition } from './stages/definition';
import { failedJobOutcome, storeThenRecord } from './stages/runner';
import type { StageTools } from './stages/tools';
import { strongEtag } from './tokens';

/**
 * A backfill re-render job (`npm run reprocess`) on the queue of a stage that renders. It re-renders the asset's
 * renditions of the stage's formats marked `requested`, in the CPU scheduler's backfill lane; stores each under a
 * new key and records it at once, so the old bytes are served until its row moves and the new ones after (the
 * rendition and the image stay `ready`); asks the CDN to forget the URLs of what changed; then removes the objects
 * replaced. The marks say what is left, so a retry (a crash, a refused write, a CDN that did not purge) carries on
 * where the last try stopped. Nothing here changes a status: a re-render that fails for good is given up (the old
 * bytes stay), while the purge of what was already replaced stays marked for the reconciler to queue again.
 */
export async function runReprocessJob(
  services: Services,
  tools: StageTools,
  stage: StageDefinition,
  job: Job<ReprocessJobData, JobOutcome>,
): Promise<JobOutcome> {
  const formats = stage.renders;
  if (!formats) throw new UnrecoverableError(`Stage "${stage.name}" renders nothing to re-render`);
  const asset = await findAsset(services.db, job.data.assetId);
  if (!asset || asset.deletingAt || asset.moderationVerdict === 'reject') return { outcome: 'skipped', detail: 'asset deleted or rejected' };

  const replaced: string[] = [];
  try {
    const marked = await listReprocessRenditions(services.db, asset.id, formats);
    if (marked.length === 0) return { outcome: 'skipped', detail: 'nothing to re-render' };
    const requested = marked.filter((rendition) => rendition.reprocess === 'requested');
    const changed = requested.length > 0 ? await reRender(services, tools, stage, asset, requested, replaced) : 0;
    const purged = await purgeReplaced(services, asset, formats);
    return { outcome: 'done', detail: `${changed} of ${requested.length} changed, ${purged} purged from the CDN` };
  } catch (error) {
    // Awaited here: returned as it is, its rejection would go unhandled while `finally` removes what was replaced.
    return await failedJobOutcome(services, asset.id, error, {
      last: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
      whenFinal: () => giveUp(services, asset, formats, error),
      skipped: 'asset deleted or rejected while re-rendering',
    });
  } finally {
    await removeReplaced(services, replaced);
  }
}

/** Renders the requested renditions at their current planned size; returns how many came out different. */
async function reRender(
  services: Services,
  tools: StageTools,
  stage: StageDefinition,
  asset: Asset,
  requested: Rendition[],
  replaced: string[],
): Promise<number> {
  const plan = planRenditions(asset.width, asset.height);
  const specs = plan.filter((spec) => requested.some((row) => row.size === spec.size && row.format === spec.format));
  const cpu = tools.cpu.backfill;
  const base = await tools.sources.base(asset.id, { storage: services.storage, originalKey: asset.originalKey, cpu });
  let changed = 0;
  await renderRenditions(
    base,
    specs,
    async (spec, output) => {
      const current = requested.find((row) => row.size === spec.size && row.format === spec.format) as Rendition;
      const key = { assetId: asset.id, size: spec.size, format: spec.format };
      const etag = strongEtag(output.data);
      // The same bytes as served: the CDN's copy is already right.
      if (etag === current.etag) return finishUnchangedRendition(services.db, key);
      const storageKey = storageKeys.reRendition(asset.id, spec.size, spec.format, etag);
      let recorded = false;
      await storeThenRecord(services, stage, asset, {
        objects: [{ key: storageKey, data: output.data, contentType: output.mime }],
        // Not recorded when the row moved on meanwhile (a takedown failed it, or a second run of this job after a
        // stall recorded these very bytes): the object stays for that run, else the sweeper removes it. Refusing would
        // delete a key another run may have recorded.
        record: async (tx) => {
          const stored = { storageKey, bytes: output.data.length, etag, width: spec.width, height: spec.height };
          recorded = await recordReprocessedRendition(tx, key, stored);
        },
      });
      if (!recorded) return;
      if (current.storageKey && current.storageKey !== storageKey) replaced.push(current.storageKey);
      changed += 1;
    },
    { scheduler: cpu },
  );
  return changed;
}

/** The CDN forgets every URL of each live upload that served a replaced rendition; then those marks go. */
async function purgeReplaced(services: Services, asset: Asset, formats: readonly RenditionFormat[]): Promise<number> {
  const purging = (await listReprocessRenditions(services.db, asset.id, formats)).filter((rendition) => rendition.reprocess === 'purging');
  if (purging.length === 0) return 0;
  const uploads = await listLiveImagesOfAsset(services.db, asset.id);
  await services.cdn.purge(uploads.flatMap((image) => reRenderedCachedCopies(services.config.publicBaseUrl, image.id, purging)));
  await finishReprocessPurge(services.db, asset.id, purging);
  return purging.length;
}

async function giveUp(services: Services, asset: Asset, formats: readonly RenditionFormat[], error: unknown): Promise<void> {
  services.logger.warn({ err: error, assetId: asset.id, formats }, 're-render failed for good; the renditions keep serving what they served');
  await dropReprocessRequests(services.db, asset.id, formats).catch((dropError: unknown) => {
    services.logger.error({ err: dropError, assetId: asset.id }, 'could not drop the re-render requests; the reconciler will queue them again');
  });
}

/** Objects no row records any more; one that cannot be removed now is left to the sweeper. */
async function removeReplaced(services: Services, keys: string[]): Promise<void> {
  await Promise.all(
    keys.map((key) =>
      services.storage.delete(key).catch((error: unknown) => {
        services.logger.warn({ err: error, key }, 'could not remove a replaced rendition; the sweeper will');
      }),
    ),
  );
}
