import { listStaleReprocessAssets } from '@renditions/db';
import { queueReprocess } from './reprocess';
import type { Services } from './services';

/**
 * Queues again the re-renders whose marks are older than STALE_FLOW_AFTER_MS while no job of theirs waits or runs:
 * Redis lost it, it failed for good with CDN purges left, or it had already read the marks when a newer request
 * came. Idempotent (a job that exists is left alone), so every worker that reconciles may run it. Returns how many
 * jobs were added, and how many assets failed (logged; the next pass tries again).
 */
export async function requeueStaleReprocess(services: Services, now = new Date()): Promise<{ requeued: number; failed: number }> {
  const staleBefore = new Date(now.getTime() - services.config.worker.staleFlowAfterMs);
  const result = { requeued: 0, failed: 0 };
  for (const asset of await listStaleReprocessAssets(services.db, staleBefore)) {
    try {
      result.requeued += (await queueReprocess(services, asset)).length;
    } catch (error) {
      result.failed += 1;
      services.logger.warn({ err: error, assetId: asset.assetId }, 'could not queue a re-render again; the next pass will');
    }
  }
  return result;
}
