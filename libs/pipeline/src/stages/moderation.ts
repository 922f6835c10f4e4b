import {
  findBlockedHashesNear,
  listLiveImagesOfAsset,
  recordModerationVerdict,
  recordPhash,
  setStageStatus,
  type ModerationDecision,
} from '@renditions/db';
import { ForbiddenAddressError } from '@renditions/events';
import { phashOfBase } from '@renditions/imaging';
import { requestHookVerdict } from '../moderation/hook';
import { BLOCKLIST_MAX_DISTANCE, failModeDecision } from '../moderation/moderate';
import { requestCleanup } from '../cleanup-request';
import { AssetWentAway, defineStage, type StageContext } from './definition';

/**
 * The hash blocklist first, then the external hook when MODERATION_WEBHOOK_URL is set (the built-in provider
 * allows). A failure is retried; on the last attempt, or when the hook's address is refused (retrying cannot
 * help), MODERATION_FAIL_MODE decides, so moderation itself never fails for good. It runs after the hash.
 */
export const moderationStage = defineStage({
  name: 'moderation',
  attempts: (config) => config.moderation.attempts,
  after: ['phash'],
  failsImage: false,
  async run(context) {
    const { services, asset, attempt, commit } = context;
    let decision: ModerationDecision;
    try {
      decision = await decide(context);
    } catch (error) {
      // Gone meanwhile: nothing to decide. Otherwise the fail mode decides only on the last attempt, or when the hook's
      // address is refused.
      if (error instanceof AssetWentAway || (!attempt.last && !(error instanceof ForbiddenAddressError))) throw error;
      decision = failModeDecision(services.config.moderation.failMode, error);
      services.logger.warn({ err: error, assetId: asset.id, verdict: decision.verdict }, 'moderation kept failing; the fail mode decided');
    }
    let recorded = false;
    await commit({
      record: async (tx) => {
        recorded = await recordModerationVerdict(tx, asset.id, decision, { undecidedOnly: true });
      },
      announce: ['image.updated'],
      completes: true,
    });
    if (!recorded) return { outcome: 'skipped', detail: 'decided meanwhile' };
    if (decision.verdict === 'reject') await requestCleanup(services, { kind: 'takedown', assetId: asset.id });
    return { outcome: 'done', detail: decision.verdict };
  },
});

async function decide(context: StageContext): Promise<ModerationDecision> {
  const { services, asset, attempt, resourceOf } = context;
  const phash = asset.phash ?? (await hashNow(context));
  const blocked = await findBlockedHashesNear(services.db, phash, BLOCKLIST_MAX_DISTANCE);
  if (blocked.length > 0) return { verdict: 'reject', reason: 'blocklist' };
  const hookUrl = services.config.moderation.webhookUrl;
  if (!hookUrl) return { verdict: 'allow', reason: null };
  const [first] = (await listLiveImagesOfAsset(services.db, asset.id)).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  if (!first) throw new Error(`asset ${asset.id} has no live upload to moderate`);
  // Fresh: the hook sees the stages as they are now, the hash just computed included.
  return requestHookVerdict(services, hookUrl, await resourceOf(first.id), attempt.eventId);
}

/**
 * The hash stage may have failed for good, and the blocklist cannot be skipped: hash here then, from the asset's
 * decoded base (shared with the render stages), and record it.
 */
async function hashNow({ asset, base, commit }: StageContext): Promise<bigint> {
  const phash = BigInt.asIntN(64, await phashOfBase(await base()));
  await commit({
    record: async (tx) => {
      await recordPhash(tx, asset.id, phash);
      await setStageStatus(tx, asset.id, 'phash', 'ready');
    },
    announce: ['image.updated'],
  });
  return phash;
}
