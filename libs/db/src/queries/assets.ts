import { and, asc, eq, exists, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm';
import type { Executor } from '../client';
import { assets, renditions, type Asset, type NewAsset, type NewRendition, type Rendition } from '../schema';
import type { AssetStatus, StepStatus } from '../schema/enums';

export type AssetStage = 'strip' | 'phash' | 'moderation';

const stageColumn = {
  strip: assets.stripStatus,
  phash: assets.phashStatus,
  moderation: assets.moderationStatus,
} as const;

const stageField = { strip: 'stripStatus', phash: 'phashStatus', moderation: 'moderationStatus' } as const;

/**
 * A rejected asset takes no new objects or stage results: its takedown removed what it had, and a job that was
 * still running must not make anything reappear (it sees the update refused and deletes what it stored).
 */
/** Assets still standing: a moderation reject is final. */
export const notRejected = ne(assets.moderationVerdict, 'reject');

/**
 * Serialises everything that creates or destroys one asset (uploads of the same bytes, deletes) for the
 * rest of the transaction, so a delete can never remove objects an upload of the same bytes just stored.
 */
export async function lockAsset(tx: Executor, sha256: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${sha256}, 0))`);
}

export async function findAsset(db: Executor, sha256: string): Promise<Asset | undefined> {
  const [row] = await db.select().from(assets).where(eq(assets.sha256, sha256));
  return row;
}

export async function insertAsset(db: Executor, asset: NewAsset, plannedRenditions: NewRendition[]): Promise<void> {
  await db.insert(assets).values(asset);
  await db.insert(renditions).values(plannedRenditions);
}

export async function deleteAsset(db: Executor, sha256: string): Promise<void> {
  await db.delete(assets).where(eq(assets.sha256, sha256));
}

export async function listRenditions(db: Executor, sha256: string): Promise<Rendition[]> {
  return db.select().from(renditions).where(eq(renditions.assetSha256, sha256));
}

export async function listRenditionsOf(db: Executor, sha256s: string[]): Promise<Rendition[]> {
  if (sha256s.length === 0) return [];
  return db.select().from(renditions).where(inArray(renditions.assetSha256, sha256s));
}

export async function findRendition(
  db: Executor,
  sha256: string,
  size: string,
  format: string,
): Promise<Rendition | undefined> {
  const [row] = await db
    .select()
    .from(renditions)
    .where(and(eq(renditions.assetSha256, sha256), eq(renditions.size, size), eq(renditions.format, format)));
  return row;
}

/** Moves the given renditions to `processing`, leaving ones already ready alone (a retried job redoes only what is missing). */
export async function markRenditionsProcessing(db: Executor, sha256: string, formats: string[]): Promise<Rendition[]> {
  return db
    .update(renditions)
    .set({ status: 'processing', updatedAt: new Date() })
    .where(
      and(eq(renditions.assetSha256, sha256), inArray(renditions.format, formats), ne(renditions.status, 'ready')),
    )
    .returning();
}

/**
 * Returns false when the asset no longer exists (deleted while the job ran) or was rejected by moderation: the
 * caller removes what it stored.
 */
export async function markRenditionReady(
  db: Executor,
  key: { sha256: string; size: string; format: string },
  stored: { storageKey: string; bytes: number; etag: string },
): Promise<boolean> {
  const updated = await db
    .update(renditions)
    .set({ status: 'ready', ...stored, updatedAt: new Date() })
    .where(
      and(
        eq(renditions.assetSha256, key.sha256),
        eq(renditions.size, key.size),
        eq(renditions.format, key.format),
        exists(db.select({ sha256: assets.sha256 }).from(assets).where(and(eq(assets.sha256, key.sha256), notRejected))),
      ),
    )
    .returning({ size: renditions.size });
  return updated.length > 0;
}

/** Marks every rendition of the given formats that is not ready as failed. */
export async function failUnfinishedRenditions(db: Executor, sha256: string, formats?: string[]): Promise<number> {
  const updated = await db
    .update(renditions)
    .set({ status: 'failed', updatedAt: new Date() })
    .where(
      and(
        eq(renditions.assetSha256, sha256),
        ne(renditions.status, 'ready'),
        formats ? inArray(renditions.format, formats) : undefined,
      ),
    )
    .returning({ size: renditions.size });
  return updated.length;
}

/** Returns false when the asset no longer exists or was rejected by moderation: the caller removes what it stored. */
export async function setStageStatus(
  db: Executor,
  sha256: string,
  stage: AssetStage,
  status: StepStatus,
  extra: Partial<Pick<NewAsset, 'strippedKey' | 'strippedBytes' | 'strippedEtag' | 'phash' | 'moderationVerdict' | 'moderationReason'>> = {},
): Promise<boolean> {
  const updated = await db
    .update(assets)
    .set({ [stageField[stage]]: status, ...extra, updatedAt: new Date() })
    .where(and(eq(assets.sha256, sha256), notRejected))
    .returning({ sha256: assets.sha256 });
  return updated.length > 0;
}

/** Every stage that has not reached `ready` is failed for good (called once all of the flow's jobs are done). */
export async function failUnfinishedStages(db: Executor, sha256: string): Promise<void> {
  for (const stage of Object.keys(stageColumn) as AssetStage[]) {
    await db
      .update(assets)
      .set({ [stageField[stage]]: 'failed', updatedAt: new Date() })
      .where(and(eq(assets.sha256, sha256), ne(stageColumn[stage], 'ready')));
  }
}

/**
 * Returns whether the asset took this status now: whoever settles it first (the settle job, or a moderation
 * takedown) announces the settling event, and only once.
 */
export async function settleAsset(db: Executor, sha256: string, status: AssetStatus): Promise<boolean> {
  const updated = await db
    .update(assets)
    .set({ status, settledAt: new Date(), updatedAt: new Date() })
    .where(and(eq(assets.sha256, sha256), or(isNull(assets.settledAt), ne(assets.status, status))))
    .returning({ sha256: assets.sha256 });
  return updated.length > 0;
}

export async function markFlowEnqueued(db: Executor, sha256: string): Promise<void> {
  await db.update(assets).set({ flowEnqueuedAt: new Date() }).where(eq(assets.sha256, sha256));
}

/**
 * Unsettled assets the reconciler should look at: never enqueued (the outbox), or enqueued long enough ago
 * that their flow may have been lost (Redis restarted without persistence, say).
 */
export async function listUnsettledAssets(db: Executor, staleBefore: Date, limit = 100): Promise<Asset[]> {
  return db
    .select()
    .from(assets)
    .where(
      and(isNull(assets.settledAt), or(isNull(assets.flowEnqueuedAt), lt(assets.flowEnqueuedAt, staleBefore))),
    )
    .orderBy(asc(assets.createdAt))
    .limit(limit);
}
