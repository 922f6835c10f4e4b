import { recordModerationVerdict, type ModerationDecision } from '@renditions/db';
import { commitAssetChange } from '../asset-change';
import { requestCleanup } from '../cleanup-request';
import type { Services } from '../services';

/**
 * An admin's verdict, recorded and announced like any status change; a reject (451 everywhere from the commit
 * on) queues the takedown of the bytes. Returns false when nothing was recorded: the asset was rejected already
 * (a reject is final) or is being deleted.
 */
export async function applyModerationDecision(services: Services, assetId: string, decision: ModerationDecision): Promise<boolean> {
  const recorded = await commitAssetChange(services, assetId, {
    record: (tx) => recordModerationVerdict(tx, assetId, decision),
    announce: ['image.updated'],
  });
  if (recorded && decision.verdict === 'reject') await requestCleanup(services, { kind: 'takedown', assetId });
  return recorded;
}
