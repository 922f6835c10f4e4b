import type { Asset, AssetStage, AssetStatus, Rendition, StepStatus } from '@renditions/db';
import { findStage, ROOT_STAGE } from './stages';

const unsettled = (status: StepStatus) => status === 'pending' || status === 'processing';

/**
 * An image is `processing` until every stage and rendition has settled. A failed rendition (its URL keeps
 * serving the original) or a failed stage that fails the image (the strip: nothing metadata-free to cache for
 * good) makes it `failed`; a moderation reject wins over everything.
 */
export function deriveAssetStatus(
  asset: Pick<Asset, 'moderationVerdict'>,
  stages: Pick<AssetStage, 'stage' | 'status'>[],
  renditions: Pick<Rendition, 'status'>[],
): AssetStatus {
  if (asset.moderationVerdict === 'reject') return 'rejected';
  const work = stages.filter((stage) => stage.stage !== ROOT_STAGE);
  if ([...work, ...renditions].some((step) => unsettled(step.status))) return 'processing';
  const failsImage = (stage: Pick<AssetStage, 'stage' | 'status'>) =>
    stage.status === 'failed' && (findStage(stage.stage)?.failsImage ?? true);
  if (work.some(failsImage) || renditions.some((rendition) => rendition.status === 'failed')) return 'failed';
  return 'ready';
}

/** The stages a client sees by name: those that report through renditions show there instead. */
export function reportedStages(stages: Pick<AssetStage, 'stage' | 'status'>[]): Record<string, StepStatus> {
  return Object.fromEntries(
    stages
      .filter((stage) => stage.stage !== ROOT_STAGE && !findStage(stage.stage)?.renders)
      .map((stage) => [stage.stage, stage.status]),
  );
}
