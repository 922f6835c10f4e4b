import {
  failUnfinishedRenditions,
  failUnfinishedStages,
  findAsset,
  listRenditions,
  settleAsset,
} from '@renditions/db';
import { SETTLED_EVENT_TYPE } from '@renditions/events';
import { announceAsset, deriveAssetStatus, type Services } from '@renditions/pipeline';
import type { ProcessorFn } from '@renditions/queue';

/**
 * Runs once every child of the flow has completed or failed for good: whatever is still unfinished can no
 * longer finish, so it is failed, and the asset settles. This is what keeps an image from staying `processing`.
 */
export function createSettleProcessor(services: Services): ProcessorFn<'settle'> {
  return async (job) => {
    const { sha256 } = job.data;
    const before = await findAsset(services.db, sha256);
    if (!before) return { outcome: 'skipped', detail: 'asset deleted' };
    await failUnfinishedRenditions(services.db, sha256);
    await failUnfinishedStages(services.db, sha256);
    const asset = await findAsset(services.db, sha256);
    if (!asset) return { outcome: 'skipped', detail: 'asset deleted' };
    const status = deriveAssetStatus(asset, await listRenditions(services.db, sha256));
    // False when a moderation takedown settled it as rejected already, and announced it then.
    const settledNow = await settleAsset(services.db, sha256, status);
    // image.updated first: a live stream ends at the settling event, so that one comes last.
    if (settledNow && status !== 'processing') {
      await announceAsset(services, sha256, ['image.updated', SETTLED_EVENT_TYPE[status]]);
    }
    return { outcome: 'done', detail: status };
  };
}
