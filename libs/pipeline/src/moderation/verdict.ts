import { recordModerationVerdict, type ModerationDecision } from '@renditions/db';
import { announceAsset } from '../notify';
import type { Services } from '../services';
import { takeDownAsset } from './takedown';

/**
 * Records a verdict and acts on it: a reject takes the asset down, anything else is announced as an update
 * (`review` keeps the image served). Returns false when nothing was recorded: the asset was rejected already
 * (a reject is final), or, with `undecidedOnly`, someone decided first.
 */
export async function applyModerationDecision(
  services: Services,
  sha256: string,
  decision: ModerationDecision,
  options: { undecidedOnly?: boolean } = {},
): Promise<boolean> {
  if (!(await recordModerationVerdict(services.db, sha256, decision, options))) return false;
  if (decision.verdict === 'reject') await takeDownAsset(services, sha256);
  else await announceAsset(services, sha256, ['image.updated']);
  return true;
}
