import { markFlowEnqueued } from '@renditions/db';
import type { AssetJobData } from '@renditions/queue';
import type { Services } from './services';

/**
 * Hands an asset's flow run to BullMQ and records that it did. When Redis is down the asset stays in the outbox
 * (unsettled, never enqueued) and the reconciler enqueues it later; enqueueing twice is a no-op.
 */
export async function enqueueFlow(services: Services, data: AssetJobData): Promise<boolean> {
  try {
    await services.queues.enqueueAssetFlow(data);
    await markFlowEnqueued(services.db, data.assetId, data.run);
    return true;
  } catch (error) {
    services.logger.warn({ err: error, ...data }, 'could not enqueue the flow now; the reconciler will retry');
    return false;
  }
}
