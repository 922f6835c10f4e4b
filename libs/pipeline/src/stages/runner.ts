import { claimStage, failUnfinishedRenditions, findAsset, setStageStatus, type Asset } from '@renditions/db';
import { InvalidImageError } from '@renditions/errors';
import { ObjectNotFoundError } from '@renditions/storage';
import { UnrecoverableError, type AssetJobData, type Job, type JobOutcome } from '@renditions/queue';
import { commitAssetChange } from '../asset-change';
import { getImageResource } from '../images';
import { moderationEventId } from '../moderation/hook';
import type { Services } from '../services';
import { AssetWentAway, type StageAttempt, type StageChange, type StageContext, type StageDefinition } from './definition';
import { ROOT_STAGE } from './index';
import type { StageTools } from './tools';

/**
 * Runs one stage job, owning what every stage repeats: the skip guard (asset gone, being deleted, rejected, run
 * superseded, stage done: claiming it says so), every status change including the final failure, "store, then record; if
 * recording is refused, remove what was stored", and no retries for content that can never succeed.
 */
export async function runStage(
  services: Services,
  tools: StageTools,
  stage: StageDefinition,
  job: Job<AssetJobData, JobOutcome>,
): Promise<JobOutcome> {
  const { assetId, run } = job.data;
  const asset = await findAsset(services.db, assetId);
  const skip = asset ? skipReason(asset, run) : 'asset deleted';
  if (skip || !asset) return { outcome: 'skipped', detail: skip };

  const attempts = job.opts.attempts ?? 1;
  const attempt: StageAttempt = {
    number: job.attemptsMade + 1,
    last: job.attemptsMade + 1 >= attempts,
    eventId: moderationEventId(job.id ?? job.name, job.timestamp),
  };
  let completed = false;
  const context: StageContext = {
    services,
    asset,
    attempt,
    original: () => tools.sources.original(asset.id, { storage: services.storage, originalKey: asset.originalKey }),
    base: () => tools.sources.base(asset.id, { storage: services.storage, originalKey: asset.originalKey }),
    cpu: tools.cpu,
    commit: async (change) => {
      await storeThenRecord(services, stage, asset, change);
      completed ||= change.completes === true;
    },
    resourceOf: (imageId) => getImageResource(services, imageId),
  };

  try {
    if (stage.name !== ROOT_STAGE && !(await claimStage(services.db, assetId, stage.name))) {
      return { outcome: 'skipped', detail: 'already done' };
    }
    const outcome = await stage.run(context);
    if (!completed) await storeThenRecord(services, stage, asset, { completes: true });
    // Settled: nothing more is made from this asset's pixels.
    if (stage.name === ROOT_STAGE) tools.sources.forget(asset.id);
    return outcome;
  } catch (error) {
    return failedJobOutcome(services, assetId, error, {
      last: attempt.last,
      whenFinal: () => recordFinalFailure(services, stage, assetId, error),
      skipped: 'asset deleted or rejected while the stage ran',
    });
  }
}

/**
 * What a job on an asset does with its failure: skip when the asset was deleted or rejected under it (not a failure
 * of the job), else run `whenFinal` if no retry follows (content that can never succeed, or the last attempt) and
 * rethrow, as UnrecoverableError when retrying cannot help. Shared by stage jobs and backfill re-render jobs.
 * @throws the job's error, or an UnrecoverableError in its place
 */
export async function failedJobOutcome(
  services: Services,
  assetId: string,
  error: unknown,
  options: { last: boolean; whenFinal: () => Promise<void>; skipped: string },
): Promise<JobOutcome> {
  if (error instanceof AssetWentAway || (await wentAway(services, assetId))) return { outcome: 'skipped', detail: options.skipped };
  const permanent = isPermanent(error);
  if (permanent || options.last) await options.whenFinal();
  throw permanent ? new UnrecoverableError(describe(error)) : error;
}

/** Why a job has nothing to do on this asset; a stage already done is found when the job claims it. */
function skipReason(asset: Asset, run: number): string | undefined {
  if (asset.deletingAt) return 'asset deleted';
  if (asset.moderationVerdict === 'reject') return 'rejected by moderation';
  if (asset.flowRun !== run) return `run ${run} was superseded by run ${asset.flowRun}`;
  return undefined;
}

/** A failure that came from the asset being deleted or rejected under the stage is not a failure of the stage. */
async function wentAway(services: Services, assetId: string): Promise<boolean> {
  const asset = await findAsset(services.db, assetId).catch(() => undefined);
  return asset === undefined ? false : Boolean(asset.deletingAt) || asset.moderationVerdict === 'reject';
}

export async function storeThenRecord(services: Services, stage: StageDefinition, asset: Asset, change: StageChange): Promise<void> {
  const objects = change.objects ?? [];
  const stored = await Promise.allSettled(
    objects.map((object) =>
      services.storage.put(object.key, object.data, { contentType: object.contentType, contentLength: object.data.length }),
    ),
  );
  // Every write has ended before the job fails: nothing lands after a retry started.
  const refused = stored.find((result) => result.status === 'rejected');
  if (refused) throw refused.reason;
  const recorded = await commitAssetChange(services, asset.id, {
    record: change.record,
    announce: change.announce,
    completesStage: change.completes ? stage.name : undefined,
    settles: change.settles,
  });
  if (recorded) return;
  // Nothing refers to these now; a delete that fails here is left to the sweeper.
  await Promise.all(
    objects.map((object) =>
      services.storage.delete(object.key).catch((error: unknown) => {
        services.logger.warn({ err: error, key: object.key }, 'could not remove an object nobody recorded; the sweeper will');
      }),
    ),
  );
  throw new AssetWentAway('asset deleted or rejected while the stage ran');
}

/** The stage failed for good: its status (and its renditions') says so now, not only once the flow settles. */
async function recordFinalFailure(services: Services, stage: StageDefinition, assetId: string, error: unknown): Promise<void> {
  try {
    await commitAssetChange(services, assetId, {
      record: async (tx) => {
        if (stage.name !== ROOT_STAGE) await setStageStatus(tx, assetId, stage.name, 'failed', describe(error).slice(0, 1000));
        if (stage.renders) await failUnfinishedRenditions(tx, assetId, stage.renders);
      },
      announce: ['image.updated'],
    });
  } catch (recordError) {
    services.logger.error({ err: recordError, stage: stage.name, assetId }, 'could not record a final failure; settle will');
  }
}

/** Content that can never succeed: retrying an undecodable image or a missing original only wastes attempts. */
function isPermanent(error: unknown): boolean {
  return error instanceof InvalidImageError || error instanceof ObjectNotFoundError || error instanceof UnrecoverableError;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
