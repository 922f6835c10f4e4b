import {
  findAsset,
  listStaleWebhookOutbox,
  listUncleanedImages,
  listUnfinishedTakedowns,
  listUnsettledAssets,
  markFlowEnqueued,
  type Asset,
} from '@renditions/db';
import type { CleanupJobData } from '@renditions/queue';
import { relayWebhook } from './notify';
import type { Services } from './services';

export interface ReconcileReport {
  /** Flows enqueued: never handed to Redis (the outbox), or lost by it. */
  enqueued: number;
  /** Cleanups and takedowns queued again: lost, or out of attempts. */
  cleanups: number;
  /** Webhook events relayed from the outbox. */
  relayed: number;
  /** Items that failed this pass (logged); the next pass tries them again. */
  failed: number;
}

/**
 * The outbox relays and the safety net in one pass, each item on its own, so one asset's error never stops
 * the others: flows never enqueued (Redis was down at upload) or lost; deletes and takedowns whose cleanup did
 * not finish; webhook events still in the outbox. Everything it enqueues is idempotent, so several workers may
 * run it at once.
 */
export async function reconcileAssets(services: Services, now = new Date()): Promise<ReconcileReport> {
  const staleBefore = new Date(now.getTime() - services.config.worker.staleFlowAfterMs);
  const report: ReconcileReport = { enqueued: 0, cleanups: 0, relayed: 0, failed: 0 };
  const each = async <T>(items: T[], handle: (item: T) => Promise<void>, describe: (item: T) => object) => {
    for (const item of items) {
      try {
        await handle(item);
      } catch (error) {
        report.failed += 1;
        services.logger.warn({ err: error, ...describe(item) }, 'reconcile could not handle an item; the next pass will');
      }
    }
  };

  await each(
    await listUnsettledAssets(services.db, staleBefore),
    async (asset) => {
      const data = { assetId: asset.id, run: asset.flowRun };
      // Redis first, then the database again: settle records the final status before its job completes and is
      // removed, so a flow is lost only if it is gone and the asset still reads unsettled after that. Judged by the
      // list alone (read earlier), an asset that settled meanwhile looks lost, and its whole flow would run again.
      if (await services.queues.ensureAssetFlow(data, () => stillUnsettled(services, asset))) report.enqueued += 1;
      await markFlowEnqueued(services.db, asset.id, asset.flowRun);
    },
    (asset) => ({ assetId: asset.id }),
  );
  const cleanups: CleanupJobData[] = [
    ...(await listUncleanedImages(services.db, staleBefore)).map((image) => ({ kind: 'deleted-image' as const, imageId: image.id })),
    ...(await listUnfinishedTakedowns(services.db, staleBefore)).map((asset) => ({ kind: 'takedown' as const, assetId: asset.id })),
  ];
  await each(
    cleanups,
    async (data) => {
      await services.queues.enqueueCleanup(data);
      report.cleanups += 1;
    },
    (data) => data,
  );
  // Younger entries are still being handed over by whoever recorded them.
  await each(
    await listStaleWebhookOutbox(services.db, staleBefore),
    async (entry) => {
      if (await relayWebhook(services, entry)) report.relayed += 1;
    },
    (entry) => ({ imageId: entry.imageId, eventId: entry.eventId }),
  );
  return report;
}

/** The listed asset, read again: still live, unsettled and on the same run. */
async function stillUnsettled(services: Services, listed: Asset): Promise<boolean> {
  const asset = await findAsset(services.db, listed.id);
  return asset !== undefined && asset.settledAt === null && asset.deletingAt === null && asset.flowRun === listed.flowRun;
}
