import { countReprocessCandidates, markForReprocess, type AssetReprocess, type ReprocessCount, type ReprocessFilter } from '@renditions/db';
import type { Services } from './services';
import { STAGES } from './stages';

/** Assets marked, and their jobs queued, per step: a crash part way leaves marks the reconciler queues. */
const ASSETS_PER_PAGE = 200;

export interface ReprocessReport {
  dryRun: boolean;
  /** Assets with at least one rendition selected. */
  assets: number;
  /** Renditions selected, per size and format. */
  counts: ReprocessCount[];
  /** Jobs added per queue (a job already waiting for an asset takes its new marks too, and is not counted). */
  queued: Record<string, number>;
  /** Assets whose jobs could not be queued now (Redis unreachable): the workers' reconciler queues them. */
  deferred: number;
}

/**
 * `npm run reprocess`: re-renders existing renditions after their sizes or encoder settings changed, through the
 * render stages at a backfill priority (below every new upload's job, and in the workers' backfill CPU lane). Marks
 * the selected ready renditions, then queues one job per asset and render queue; a dry run only counts them.
 * Images stay `ready` and keep serving their renditions while the new ones render (see reprocess-job.ts).
 */
export async function requestReprocess(services: Services, filter: ReprocessFilter, options: { dryRun?: boolean } = {}): Promise<ReprocessReport> {
  const { assets, counts } = await countReprocessCandidates(services.db, filter);
  const report: ReprocessReport = { dryRun: options.dryRun === true, assets, counts, queued: {}, deferred: 0 };
  if (report.dryRun) return report;
  for (let after: string | undefined; ; ) {
    const page = await markForReprocess(services.db, filter, { afterAssetId: after, limit: ASSETS_PER_PAGE });
    if (page.length === 0) return report;
    await Promise.all(
      page.map(async (asset) => {
        try {
          for (const queue of await queueReprocess(services, asset)) report.queued[queue] = (report.queued[queue] ?? 0) + 1;
        } catch (error) {
          report.deferred += 1;
          services.logger.warn({ err: error, assetId: asset.assetId }, 'could not queue a re-render now; the reconciler will');
        }
      }),
    );
    after = page.at(-1)?.assetId;
  }
}

/** Queues the re-render of an asset's marked formats on each stage's queue that renders one; returns those that were added. */
export async function queueReprocess(services: Pick<Services, 'queues'>, asset: AssetReprocess): Promise<string[]> {
  const added: string[] = [];
  for (const stage of STAGES) {
    if (!stage.renders?.some((format) => asset.formats.includes(format))) continue;
    if (await services.queues.enqueueReprocess(stage.name, asset.assetId)) added.push(stage.name);
  }
  return added;
}
