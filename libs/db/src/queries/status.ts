import { and, eq, inArray, isNull, ne, or, sql } from 'drizzle-orm';
import type { Executor } from '../client';
import { assets, assetStages, renditions, type Rendition } from '../schema';
import type { AssetStatus, ModerationVerdict, StepStatus } from '../schema/enums';
import { notRejected } from './assets';

/*
 * Every status change of an asset, its stages and its renditions is one of these queries. Callers that must not
 * record anything for an asset being deleted or rejected hold `lockLiveAsset` in the same transaction.
 */

export async function setStageStatus(
  db: Executor,
  assetId: string,
  stage: string,
  status: StepStatus,
  error: string | null = null,
): Promise<void> {
  await db
    .update(assetStages)
    .set({ status, error, updatedAt: new Date() })
    .where(and(eq(assetStages.assetId, assetId), eq(assetStages.stage, stage)));
}

/**
 * A job starts its stage: `processing`, unless the stage is ready already (a retried or duplicate job whose work
 * is done). Returns false then, and for an asset without that stage's row: there is nothing for the job to do.
 */
export async function claimStage(db: Executor, assetId: string, stage: string): Promise<boolean> {
  const claimed = await db
    .update(assetStages)
    .set({ status: 'processing', error: null, updatedAt: new Date() })
    .where(and(eq(assetStages.assetId, assetId), eq(assetStages.stage, stage), ne(assetStages.status, 'ready')))
    .returning({ stage: assetStages.stage });
  return claimed.length > 0;
}

/** Moves the given formats' renditions that are not ready to `processing`: a retried job redoes only what is missing. */
export async function markRenditionsProcessing(db: Executor, assetId: string, formats: readonly string[]): Promise<Rendition[]> {
  return db
    .update(renditions)
    .set({ status: 'processing', updatedAt: new Date() })
    .where(and(eq(renditions.assetId, assetId), inArray(renditions.format, [...formats]), ne(renditions.status, 'ready')))
    .returning();
}

export interface StoredRendition {
  size: string;
  format: string;
  storageKey: string;
  bytes: number;
  etag: string;
}

/** Records renditions whose bytes are stored: `ready`, with where they are. One statement for the whole batch. */
export async function markRenditionsReady(db: Executor, assetId: string, stored: readonly StoredRendition[]): Promise<void> {
  if (stored.length === 0) return;
  const rows = sql.join(
    stored.map((one) => sql`(${one.size}, ${one.format}, ${one.storageKey}, ${one.bytes}::integer, ${one.etag})`),
    sql`, `,
  );
  await db.execute(sql`
    update ${renditions}
    set status = 'ready', storage_key = stored.storage_key, bytes = stored.bytes, etag = stored.etag, updated_at = now()
    from (values ${rows}) as stored (size, format, storage_key, bytes, etag)
    where ${renditions.assetId} = ${assetId} and ${renditions.size} = stored.size and ${renditions.format} = stored.format`);
}

/** Every rendition of the given formats (all when omitted) that is not ready is failed. */
export async function failUnfinishedRenditions(db: Executor, assetId: string, formats?: readonly string[]): Promise<void> {
  await db
    .update(renditions)
    .set({ status: 'failed', updatedAt: new Date() })
    .where(
      and(
        eq(renditions.assetId, assetId),
        ne(renditions.status, 'ready'),
        formats ? inArray(renditions.format, [...formats]) : undefined,
      ),
    );
}

/** Every stage but `except` that has not reached `ready` is failed (once all of the flow's jobs are done). */
export async function failUnfinishedStages(db: Executor, assetId: string, except: string): Promise<void> {
  await db
    .update(assetStages)
    .set({ status: 'failed', error: sql`coalesce(${assetStages.error}, 'did not finish')`, updatedAt: new Date() })
    .where(and(eq(assetStages.assetId, assetId), ne(assetStages.status, 'ready'), ne(assetStages.stage, except)));
}

/**
 * Stores the asset's status; `settled` marks it final for this run. Returns whether anything changed, so whoever
 * changes it announces it, once.
 */
export async function storeAssetStatus(db: Executor, assetId: string, status: AssetStatus, settled: boolean): Promise<boolean> {
  const updated = await db
    .update(assets)
    .set({ status, ...(settled ? { settledAt: sql`coalesce(${assets.settledAt}, now())` } : {}), updatedAt: new Date() })
    .where(
      and(
        eq(assets.id, assetId),
        or(ne(assets.status, status), settled ? isNull(assets.settledAt) : undefined),
      ),
    )
    .returning({ id: assets.id });
  return updated.length > 0;
}

export interface ModerationDecision {
  verdict: Exclude<ModerationVerdict, 'pending'>;
  reason: string | null;
}

/**
 * Records a verdict and marks the moderation stage done. A reject is final: its bytes go, so no later verdict
 * replaces it (returns false). `undecidedOnly` is for the pipeline: an admin who decided while the hook was
 * still being asked wins.
 */
export async function recordModerationVerdict(
  db: Executor,
  assetId: string,
  decision: ModerationDecision,
  options: { undecidedOnly?: boolean } = {},
): Promise<boolean> {
  const updated = await db
    .update(assets)
    .set({ moderationVerdict: decision.verdict, moderationReason: decision.reason, updatedAt: new Date() })
    .where(
      and(
        eq(assets.id, assetId),
        decision.verdict === 'reject' ? undefined : notRejected,
        options.undecidedOnly ? eq(assets.moderationVerdict, 'pending') : undefined,
      ),
    )
    .returning({ id: assets.id });
  if (updated.length === 0) return false;
  await setStageStatus(db, assetId, 'moderation', 'ready');
  return true;
}

/**
 * Forgets every derived object of a taken-down asset: the stripped copy and the renditions. Rendition rows stay,
 * failed, so the image resource still lists them.
 */
export async function forgetDerivedObjects(db: Executor, assetId: string): Promise<void> {
  await db
    .update(assets)
    .set({ strippedKey: null, strippedBytes: null, strippedEtag: null, updatedAt: new Date() })
    .where(eq(assets.id, assetId));
  await db
    .update(renditions)
    .set({ status: 'failed', storageKey: null, bytes: null, etag: null, updatedAt: new Date() })
    .where(eq(renditions.assetId, assetId));
}

export async function markTakenDown(db: Executor, assetId: string): Promise<void> {
  await db.update(assets).set({ takenDownAt: new Date() }).where(eq(assets.id, assetId));
}

/**
 * Starts the next run of a settled `failed` asset's flow: what failed is pending again (what is ready stays), with
 * fresh job ids (the run number), so the failed run's jobs kept in Redis cannot swallow it. Returns the new run,
 * or undefined when the asset is not a settled failure.
 */
export async function startNextRun(db: Executor, assetId: string): Promise<number | undefined> {
  const [row] = await db
    .update(assets)
    .set({
      flowRun: sql`${assets.flowRun} + 1`,
      status: 'processing',
      settledAt: null,
      flowEnqueuedAt: null,
      updatedAt: new Date(),
    })
    .where(and(eq(assets.id, assetId), eq(assets.status, 'failed'), isNull(assets.deletingAt)))
    .returning({ run: assets.flowRun });
  if (!row) return undefined;
  await db
    .update(assetStages)
    .set({ status: 'pending', error: null, updatedAt: new Date() })
    .where(and(eq(assetStages.assetId, assetId), ne(assetStages.status, 'ready')));
  await db
    .update(renditions)
    .set({ status: 'pending', updatedAt: new Date() })
    .where(and(eq(renditions.assetId, assetId), ne(renditions.status, 'ready')));
  return row.run;
}
