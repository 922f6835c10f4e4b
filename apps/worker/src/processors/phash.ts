import { findAsset, setStageStatus } from '@renditions/db';
import { computePhash } from '@renditions/imaging';
import { announceAsset, type Services } from '@renditions/pipeline';
import type { ProcessorFn } from '@renditions/queue';

/** Computes the 64-bit DCT perceptual hash used for near-duplicate search. */
export function createPhashProcessor(services: Services): ProcessorFn<'phash'> {
  return async (job) => {
    const { sha256 } = job.data;
    const asset = await findAsset(services.db, sha256);
    if (!asset) return { outcome: 'skipped', detail: 'asset deleted' };
    if (asset.moderationVerdict === 'reject') return { outcome: 'skipped', detail: 'rejected by moderation' };
    if (asset.phashStatus === 'ready') return { outcome: 'skipped', detail: 'already hashed' };
    await setStageStatus(services.db, sha256, 'phash', 'processing');
    const phash = await computePhash(await services.storage.getBuffer(asset.originalKey));
    // PostgreSQL's bigint is signed; the hash's 64 bits are stored as they are.
    await setStageStatus(services.db, sha256, 'phash', 'ready', { phash: BigInt.asIntN(64, phash) });
    await announceAsset(services, sha256, ['image.updated']);
    return { outcome: 'done' };
  };
}
