import { findAsset, setStageStatus } from '@renditions/db';
import { announceAsset, type Services } from '@renditions/pipeline';
import type { ProcessorFn } from '@renditions/queue';

/** The built-in moderation provider: allow. */
export function createModerationProcessor(services: Services): ProcessorFn<'moderation'> {
  return async (job) => {
    const { sha256 } = job.data;
    const asset = await findAsset(services.db, sha256);
    if (!asset) return { outcome: 'skipped', detail: 'asset deleted' };
    if (asset.moderationStatus === 'ready') return { outcome: 'skipped', detail: 'already moderated' };
    await setStageStatus(services.db, sha256, 'moderation', 'ready', {
      moderationVerdict: 'allow',
      moderationReason: null,
    });
    await announceAsset(services, sha256, ['image.updated']);
    return { outcome: 'done' };
  };
}
