import { and, eq, ne } from 'drizzle-orm';
import type { Executor } from '../client';
import { assets, renditions } from '../schema';
import type { ModerationVerdict } from '../schema/enums';
import { notRejected } from './assets';

export interface ModerationDecision {
  verdict: Exclude<ModerationVerdict, 'pending'>;
  reason: string | null;
}

/**
 * Records a verdict and marks the moderation stage done. A reject is final: its bytes are gone, so no later
 * verdict replaces it (returns false). `undecidedOnly` is for the pipeline: an admin who decided while the
 * hook was still being asked wins.
 */
export async function recordModerationVerdict(
  db: Executor,
  sha256: string,
  decision: ModerationDecision,
  options: { undecidedOnly?: boolean } = {},
): Promise<boolean> {
  const updated = await db
    .update(assets)
    .set({
      moderationStatus: 'ready',
      moderationVerdict: decision.verdict,
      moderationReason: decision.reason,
      updatedAt: new Date(),
    })
    .where(
      and(
        eq(assets.sha256, sha256),
        decision.verdict === 'reject' ? undefined : notRejected,
        options.undecidedOnly ? ne(assets.moderationStatus, 'ready') : undefined,
      ),
    )
    .returning({ sha256: assets.sha256 });
  return updated.length > 0;
}

/**
 * Forgets every stored object of a taken-down asset but the original, whose key the row must keep: the
 * stripped copy and the renditions. Rendition rows stay, failed, so the image resource still lists them.
 */
export async function forgetDerivedObjects(db: Executor, sha256: string): Promise<void> {
  await db
    .update(assets)
    .set({ strippedKey: null, strippedBytes: null, strippedEtag: null, updatedAt: new Date() })
    .where(eq(assets.sha256, sha256));
  await db
    .update(renditions)
    .set({ status: 'failed', storageKey: null, bytes: null, etag: null, updatedAt: new Date() })
    .where(eq(renditions.assetSha256, sha256));
}
