import { and, asc, eq, isNotNull, isNull, lt, ne, or } from 'drizzle-orm';
import type { Executor } from '../client';
import { assets, assetStages, renditions, type Asset, type AssetStage, type NewAsset, type NewRendition, type Rendition } from '../schema';

/** Assets still standing: a moderation reject is final. */
export const notRejected = ne(assets.moderationVerdict, 'reject');

export async function findAsset(db: Executor, id: string): Promise<Asset | undefined> {
  const [row] = await db.select().from(assets).where(eq(assets.id, id));
  return row;
}

/** The generation of these bytes that uploads attach to: the one not being deleted (at most one, by index). */
export async function findLiveAssetBySha256(db: Executor, sha256: string): Promise<Asset | undefined> {
  const [row] = await db
    .select()
    .from(assets)
    .where(and(eq(assets.sha256, sha256), isNull(assets.deletingAt)));
  return row;
}

/**
 * Locks an asset that is not being deleted for the rest of the transaction, so a delete cannot start while
 * something is attached to it or recorded for it (and the other way round). `undefined`: gone or being deleted.
 */
export async function lockLiveAsset(tx: Executor, id: string): Promise<Asset | undefined> {
  const [row] = await tx
    .select()
    .from(assets)
    .where(and(eq(assets.id, id), isNull(assets.deletingAt)))
    .for('update');
  return row;
}

/** A new generation with its planned renditions and a pending row per stage, as inserted (so nothing need read them back). */
export async function insertAsset(
  tx: Executor,
  asset: NewAsset,
  plannedRenditions: Omit<NewRendition, 'assetId'>[],
  stageNames: readonly string[],
): Promise<{ asset: Asset; renditions: Rendition[]; stages: AssetStage[] }> {
  const [row] = await tx.insert(assets).values(asset).returning();
  const created = row as Asset;
  const renditionRows = await tx
    .insert(renditions)
    .values(plannedRenditions.map((rendition) => ({ ...rendition, assetId: created.id })))
    .returning();
  const stageRows = await tx.insert(assetStages).values(stageNames.map((stage) => ({ assetId: created.id, stage }))).returning();
  return { asset: created, renditions: renditionRows, stages: stageRows };
}

/** The unique index on live SHA-256s refused a second live generation: someone else created it first. */
export function isLiveDuplicate(error: unknown): boolean {
  for (let current = error; current; current = (current as { cause?: unknown }).cause) {
    const { code, constraint_name: constraint } = current as { code?: string; constraint_name?: string };
    if (code === '23505' && constraint === 'assets_live_sha256_idx') return true;
  }
  return false;
}

/** From now on nothing attaches to or revives this generation; cleanup removes its objects, then the row. */
export async function markAssetDeleting(tx: Executor, id: string): Promise<void> {
  await tx.update(assets).set({ deletingAt: new Date(), updatedAt: new Date() }).where(eq(assets.id, id));
}

/** The last step of a delete, once its objects are gone (renditions and stage rows go with it). */
export async function removeAssetRow(db: Executor, id: string): Promise<void> {
  await db.delete(assets).where(and(eq(assets.id, id), isNotNull(assets.deletingAt)));
}

export async function listRenditions(db: Executor, assetId: string): Promise<Rendition[]> {
  return db.select().from(renditions).where(eq(renditions.assetId, assetId));
}

export async function listStages(db: Executor, assetId: string): Promise<AssetStage[]> {
  return db.select().from(assetStages).where(eq(assetStages.assetId, assetId));
}

export async function markFlowEnqueued(db: Executor, id: string, run: number): Promise<void> {
  await db.update(assets).set({ flowEnqueuedAt: new Date() }).where(and(eq(assets.id, id), eq(assets.flowRun, run)));
}

/**
 * Unsettled live assets the reconciler should look at: never enqueued (the outbox), or enqueued long enough ago
 * that their flow may have been lost (Redis restarted without persistence, say).
 */
export async function listUnsettledAssets(db: Executor, staleBefore: Date, limit = 100): Promise<Asset[]> {
  return db
    .select()
    .from(assets)
    .where(
      and(
        isNull(assets.settledAt),
        isNull(assets.deletingAt),
        or(isNull(assets.flowEnqueuedAt), lt(assets.flowEnqueuedAt, staleBefore)),
      ),
    )
    .orderBy(asc(assets.createdAt))
    .limit(limit);
}

/** Rejected assets whose takedown has not finished after a while: its job was lost or keeps failing. */
export async function listUnfinishedTakedowns(db: Executor, staleBefore: Date, limit = 100): Promise<Asset[]> {
  return db
    .select()
    .from(assets)
    .where(
      and(eq(assets.moderationVerdict, 'reject'), isNull(assets.takenDownAt), isNull(assets.deletingAt), lt(assets.updatedAt, staleBefore)),
    )
    .orderBy(asc(assets.updatedAt))
    .limit(limit);
}

/** The strip stage's result: the metadata-free copy the CDN serves for good. */
export async function recordStrippedCopy(
  db: Executor,
  assetId: string,
  stored: { strippedKey: string; strippedBytes: number; strippedEtag: string },
): Promise<void> {
  await db.update(assets).set({ ...stored, updatedAt: new Date() }).where(eq(assets.id, assetId));
}

/** The hash stage's result: the 64-bit pHash as PostgreSQL's signed bigint (same bits). */
/** The hash stage's results; the moderation stage's fallback records only the pHash. */
export async function recordPhash(db: Executor, assetId: string, phash: bigint, thumbhash?: string): Promise<void> {
  await db
    .update(assets)
    .set({ phash, ...(thumbhash === undefined ? {} : { thumbhash }), updatedAt: new Date() })
    .where(eq(assets.id, assetId));
}
