import { and, asc, eq, gt, gte, inArray, isNotNull, isNull, lt, min, or, sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../client';
import { assets, renditions, type Rendition } from '../schema';
import { notRejected } from './assets';

/*
 * A backfill re-render (`npm run reprocess`) marks ready renditions `requested`; a job re-renders them and records
 * each new object with `purging`; once the CDN has forgotten the old copies the mark goes. The rendition's status
 * stays `ready` all along, so nothing here changes what the image resource or its status say.
 */

/** Which ready renditions to re-render; an absent field does not narrow. Dates are the asset's first upload. */
export interface ReprocessFilter {
  sizes?: readonly string[];
  formats?: readonly string[];
  /** Uploaded at or after. */
  since?: Date;
  /** Uploaded before. */
  until?: Date;
}

/** Renditions of one asset, by format: what a re-render job of each render queue has to do. */
export interface AssetReprocess {
  assetId: string;
  formats: string[];
}

export interface ReprocessCount {
  size: string;
  format: string;
  renditions: number;
}

type RenditionKey = Pick<Rendition, 'assetId' | 'size' | 'format'>;

/** The rendition half of a filter: ready, and of the sizes and formats it names. */
function readyOfSizeAndFormat(filter: ReprocessFilter): SQL | undefined {
  return and(
    eq(renditions.status, 'ready'),
    filter.sizes ? inArray(renditions.size, [...filter.sizes]) : undefined,
    filter.formats ? inArray(renditions.format, [...filter.formats]) : undefined,
  );
}

/** Ready renditions of standing assets (not being deleted, not rejected) that the filter selects. */
function selected(filter: ReprocessFilter): SQL | undefined {
  return and(
    readyOfSizeAndFormat(filter),
    isNull(assets.deletingAt),
    notRejected,
    filter.since ? gte(assets.createdAt, filter.since) : undefined,
    filter.until ? lt(assets.createdAt, filter.until) : undefined,
  );
}

/** What a reprocess with this filter would re-render: renditions per size and format, and the assets they belong to. */
export async function countReprocessCandidates(
  db: Executor,
  filter: ReprocessFilter,
): Promise<{ assets: number; counts: ReprocessCount[] }> {
  const counts = await db
    .select({ size: renditions.size, format: renditions.format, renditions: sql<number>`count(*)::int` })
    .from(renditions)
    .innerJoin(assets, eq(assets.id, renditions.assetId))
    .where(selected(filter))
    .groupBy(renditions.size, renditions.format);
  const [row] = await db
    .select({ assets: sql<number>`count(distinct ${renditions.assetId})::int` })
    .from(renditions)
    .innerJoin(assets, eq(assets.id, renditions.assetId))
    .where(selected(filter));
  return { assets: row?.assets ?? 0, counts };
}

/**
 * Marks the selected renditions of the next `limit` assets (in id order, after `afterAssetId`) `requested`, and
 * returns those assets in that order with the formats marked: the last one is where the next page starts. A rendition already marked is marked again: a newer request
 * re-renders it once more, with whatever settings the workers have then.
 */
export async function markForReprocess(
  db: Executor,
  filter: ReprocessFilter,
  page: { afterAssetId?: string; limit: number },
): Promise<AssetReprocess[]> {
  const batch = await db
    .selectDistinct({ id: assets.id })
    .from(assets)
    .innerJoin(renditions, eq(renditions.assetId, assets.id))
    .where(and(selected(filter), page.afterAssetId === undefined ? undefined : gt(assets.id, page.afterAssetId)))
    .orderBy(asc(assets.id))
    .limit(page.limit);
  if (batch.length === 0) return [];
  const marked = await db
    .update(renditions)
    .set({ reprocess: 'requested', updatedAt: new Date() })
    .where(
      and(
        inArray(
          renditions.assetId,
          batch.map((asset) => asset.id),
        ),
        readyOfSizeAndFormat(filter),
      ),
    )
    .returning({ assetId: renditions.assetId, format: renditions.format });
  const formats = new Map<string, Set<string>>();
  for (const { assetId, format } of marked) formats.set(assetId, (formats.get(assetId) ?? new Set()).add(format));
  return batch.flatMap(({ id }) => {
    const of = formats.get(id);
    return of ? [{ assetId: id, formats: [...of].sort() }] : [];
  });
}

/** The asset's renditions of these formats that a reprocess marked, in either state. */
export async function listReprocessRenditions(db: Executor, assetId: string, formats: readonly string[]): Promise<Rendition[]> {
  return db
    .select()
    .from(renditions)
    .where(and(eq(renditions.assetId, assetId), inArray(renditions.format, [...formats]), isNotNull(renditions.reprocess)));
}

/**
 * Records a re-rendered rendition: the new object and its size, served from now on, and `purging` until the CDN
 * forgot the old copy. Only while it is still requested and ready (a takedown failed it meanwhile); returns whether
 * it was recorded.
 */
export async function recordReprocessedRendition(
  db: Executor,
  key: RenditionKey,
  stored: { storageKey: string; bytes: number; etag: string; width: number; height: number },
): Promise<boolean> {
  const updated = await db
    .update(renditions)
    .set({ ...stored, reprocess: 'purging', updatedAt: new Date() })
    .where(and(matchesKey(key), eq(renditions.reprocess, 'requested'), eq(renditions.status, 'ready')))
    .returning({ assetId: renditions.assetId });
  return updated.length > 0;
}

/** The re-render gave the very bytes already served: nothing to replace, nothing for the CDN to forget. */
export async function finishUnchangedRendition(db: Executor, key: RenditionKey): Promise<void> {
  await db
    .update(renditions)
    .set({ reprocess: null, updatedAt: new Date() })
    .where(and(matchesKey(key), eq(renditions.reprocess, 'requested')));
}

/** The CDN forgot the old copies of these renditions: their re-render is done. A newer request stays. */
export async function finishReprocessPurge(db: Executor, assetId: string, keys: Pick<Rendition, 'size' | 'format'>[]): Promise<void> {
  if (keys.length === 0) return;
  await db
    .update(renditions)
    .set({ reprocess: null, updatedAt: new Date() })
    .where(and(eq(renditions.reprocess, 'purging'), or(...keys.map((key) => matchesKey({ assetId, ...key })))));
}

/**
 * A re-render that failed for good is given up: the rendition keeps serving what it served. Renditions already
 * re-rendered keep their `purging` mark, so the CDN purge is still retried (the reconciler queues it again).
 */
export async function dropReprocessRequests(db: Executor, assetId: string, formats: readonly string[]): Promise<void> {
  await db
    .update(renditions)
    .set({ reprocess: null, updatedAt: new Date() })
    .where(and(eq(renditions.assetId, assetId), inArray(renditions.format, [...formats]), eq(renditions.reprocess, 'requested')));
}

/**
 * Standing assets with re-renders marked before `staleBefore` and not finished: their job may have been lost
 * (Redis restarted without persistence) or run before the mark. Oldest first, with the formats marked.
 */
export async function listStaleReprocessAssets(db: Executor, staleBefore: Date, limit = 100): Promise<AssetReprocess[]> {
  const rows = await db
    .select({ assetId: renditions.assetId, formats: sql<string[]>`array_agg(distinct ${renditions.format})` })
    .from(renditions)
    .innerJoin(assets, eq(assets.id, renditions.assetId))
    .where(and(isNotNull(renditions.reprocess), lt(renditions.updatedAt, staleBefore), isNull(assets.deletingAt), notRejected))
    .groupBy(renditions.assetId)
    .orderBy(asc(min(renditions.updatedAt)))
    .limit(limit);
  return rows;
}

function matchesKey(key: RenditionKey): SQL | undefined {
  return and(eq(renditions.assetId, key.assetId), eq(renditions.size, key.size), eq(renditions.format, key.format));
}
