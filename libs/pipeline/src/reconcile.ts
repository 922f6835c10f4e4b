import { listUnsettledAssets, markFlowEnqueued } from '@renditions/db';
import type { Services } from './services';

export interface ReconcileReport {
  enqueued: number;
  checked: number;
}

/**
 * The outbox relay and the safety net in one pass: assets whose flow was never enqueued (Redis was down at
 * upload) are enqueued now, and assets unsettled for a long time get their flow back if Redis lost it.
 * Enqueueing is idempotent, so several workers may run this at once.
 */
export async function reconcileAssets(services: Services, now = new Date()): Promise<ReconcileReport> {
  const staleBefore = new Date(now.getTime() - services.config.worker.staleFlowAfterMs);
  const candidates = await listUnsettledAssets(services.db, staleBefore);
  let enqueued = 0;
  for (const asset of candidates) {
    if (await services.queues.ensureAssetFlow(asset.sha256)) enqueued += 1;
    await markFlowEnqueued(services.db, asset.sha256);
  }
  return { enqueued, checked: candidates.length };
}
