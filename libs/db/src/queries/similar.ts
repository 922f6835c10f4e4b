import { and, asc, eq, getTableColumns, isNull, lte, ne, or, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { Executor } from '../client';
import { phashQuarters, quarterProbes, quarterValuesWithin } from '../phash-quarters';
import { assets, blockedHashes, images, type BlockedHash } from '../schema';

/** A table holding a `phash` and its four generated, indexed 16-bit quarters (`assets`, `blocked_hashes`). */
export interface PhashIndexedTable {
  phash: AnyPgColumn;
  phashQ0: AnyPgColumn;
  phashQ1: AnyPgColumn;
  phashQ2: AnyPgColumn;
  phashQ3: AnyPgColumn;
}

export interface PhashNearness {
  /** Exact Hamming distance between the row's hash and the query hash, computed by PostgreSQL. */
  distance: SQL<number>;
  /** Rows whose hash is within the distance: an index-backed candidate filter, then the exact check. */
  within: SQL;
}

/**
 * The SQL that finds a table's hashes within `maxDistance` of `phash` through its quarter indexes: a quarter
 * column must equal one of the values near the query's quarter (a BitmapOr of up to four index scans, see
 * {@link quarterProbes}), and only those candidates get the exact `bit_count` distance.
 * @throws {RangeError} when `phash` does not fit in 64 bits or `maxDistance` is not an integer 0..64
 */
export function phashNear(table: PhashIndexedTable, phash: bigint, maxDistance: number): PhashNearness {
  const quarterColumns = [table.phashQ0, table.phashQ1, table.phashQ2, table.phashQ3] as const;
  const quarters = phashQuarters(phash);
  // One array parameter per quarter rather than a list of scalars: radius 8 means ~39,000 values per quarter.
  const candidates = quarterProbes(maxDistance).map(
    ({ quarter, radius }) =>
      sql`${quarterColumns[quarter]} = any(${sql.param(quarterValuesWithin(quarters[quarter], radius))}::int[])`,
  );
  // The bigint column is signed: compare the same 64 bits, written as a signed value.
  const signed = BigInt.asIntN(64, phash).toString();
  const distance = sql<number>`bit_count((${table.phash} # ${signed}::bigint)::bit(64))::int`;
  return { distance, within: and(or(...candidates), lte(distance, maxDistance)) as SQL };
}

export interface SimilarImagesSearch {
  phash: bigint;
  maxDistance: number;
  /** The image searched from: left out, while other uploads of the same bytes (distance 0) are kept. */
  excludeImageId: string;
  limit: number;
}

/**
 * Live images (not deleted, not rejected by moderation) whose content is within `maxDistance` of `phash`,
 * nearest first, then oldest upload first. Returns the query builder so benchmarks can EXPLAIN it; await it.
 * @throws {RangeError} when `phash` does not fit in 64 bits or `maxDistance` is not an integer 0..64
 */
export function findImagesNearPhash(db: Executor, search: SimilarImagesSearch) {
  const near = phashNear(assets, search.phash, search.maxDistance);
  return db
    .select({ id: images.id, ext: assets.ext, distance: near.distance })
    .from(assets)
    .innerJoin(images, eq(images.assetSha256, assets.sha256))
    .where(
      and(
        near.within,
        isNull(images.deletedAt),
        ne(images.id, search.excludeImageId),
        ne(assets.moderationVerdict, 'reject'),
      ),
    )
    .orderBy(asc(near.distance), asc(images.createdAt), asc(images.id))
    .limit(search.limit);
}

/**
 * Blocklist entries within `maxDistance` of `phash` (the moderation stage rejects near-duplicates within 6),
 * nearest first.
 * @throws {RangeError} when `phash` does not fit in 64 bits or `maxDistance` is not an integer 0..64
 */
export async function findBlockedHashesNear(
  db: Executor,
  phash: bigint,
  maxDistance: number,
): Promise<Array<BlockedHash & { distance: number }>> {
  const near = phashNear(blockedHashes, phash, maxDistance);
  return db
    .select({ ...getTableColumns(blockedHashes), distance: near.distance })
    .from(blockedHashes)
    .where(near.within)
    .orderBy(asc(near.distance), asc(blockedHashes.createdAt));
}
