import type { Asset, AssetStatus, Rendition, StepStatus } from '@renditions/db';

const unsettled = (status: StepStatus) => status === 'pending' || status === 'processing';

/**
 * An image is `processing` until every stage and rendition has settled. A failed rendition (its URL keeps
 * serving the original) or a failed strip (nothing metadata-free to cache for good) makes it `failed`;
 * a moderation reject wins over everything.
 */
export function deriveAssetStatus(
  asset: Pick<Asset, 'stripStatus' | 'phashStatus' | 'moderationStatus' | 'moderationVerdict'>,
  renditions: Pick<Rendition, 'status'>[],
): AssetStatus {
  if (asset.moderationVerdict === 'reject') return 'rejected';
  const steps = [asset.stripStatus, asset.phashStatus, asset.moderationStatus, ...renditions.map((r) => r.status)];
  if (steps.some(unsettled)) return 'processing';
  if (asset.stripStatus === 'failed' || renditions.some((r) => r.status === 'failed')) return 'failed';
  return 'ready';
}
