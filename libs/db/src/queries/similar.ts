import { and, asc, eq, getTableColumns, isNull, ne, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Executor } from '../client';
import { phashQuarters, quarterProbes, quarterValuesWithin } from '../phash-quarters';
import { assets, blockedHashes, images, type BlockedHash } from '../schema';
import { notRejected } from './assets';

/**
 * A table holding an `id`, a `phash` and its four generated 16-bit quarters, each with a covering index on
 * `(phash_qN, phash, id)` (`assets`, `blocked_hashes`).
 */
export type PhashIndexedTable = PgTable & {
  id: AnyPgColumn;
  phash: AnyPgColumn;
  phashQ0: AnyPgColumn;
  phashQ1: AnyPgColumn;
  phashQ2: AnyPgColumn;
  phashQ3: AnyPgColumn;
};

export interface PhashNearness {
  /** Exact Hamming distance between the row's hash and the query hash, computed by PostgreSQL. */
  distance: SQL<number>;
  /**
   * The ids of the rows within the distance, as a subquery: per probed quarter, an Index Only Scan of its covering
   * index that checks the exact distance on the indexed hash, the scans' ids combined by UNION.
   */
  ids: SQL;
  /** Rows whose id is among {@link PhashNearness.ids}: a primary key lookup of the few matches. */
  within: SQL;
}

/**
 * The SQL that finds a table's hashes within `maxDistance` of `phash` through its quarter indexes. Per probed
 * quarter (see {@link quarterProbes}) the quarter column must equal one of the values near the query's quarter, and
 * the exact `bit_count` distance is checked on the hash stored in the same index entry: the table itself is only
 * read for the rows that are within the distance. (A BitmapOr of the four quarters, the obvious plan, has to
 * fetch every candidate's table row to compute its distance: at distance 10 on 1M hashes, ~6,500 random heap
 * pages for, usually, no match at all.)
 * @throws {RangeError} when `phash` does not fit in 64 bits or `maxDistance` is not an integer 0..64
 */
export function phashNear(table: PhashIndexedTable, phash: bigint, maxDistance: number): PhashNearness {
  const quarterColumns = [table.phashQ0, table.phashQ1, table.phashQ2, table.phashQ3] as const;
  const quarters = phashQuarters(phash);
  const probes = quarterProbes(maxDistance);
  // The bigint column is signed: compare the same 64 bits, written as a signed value.
  const signed = BigInt.asIntN(64, phash).toString();
  const distance = sql<number>`bit_count((${table.phash} # ${signed}::bigint)::bit(64))::int`;
  // One array parameter per quarter rather than a list of scalars: radius 8 means ~39,000 values per quarter.
  // Each branch names only columns of its index, so it can be an Index Only Scan; UNION drops the duplicates of a
  // row found through several quarters.
  const branches = probes.map(
    ({ quarter, radius }) =>
      sql`select ${table.id} from ${table} where ${quarterColumns[quarter]} = any(${sql.param(
        quarterValuesWithin(quarters[quarter], radius),
      )}::int[]) and ${distance} <= ${maxDistance}`,
  );
  const ids = sql.join(branches, sql` union `);
  return { distance, ids, within: sql`${table.id} = any(array(${ids}))` };
}

export interface SimilarImagesSearch {
  phash: bigint;
  maxDistance: number;
  /** The image searched from: left out, while other uploads of the same bytes (distance 0) are kept. */
  excludeImageId: string;
  limit: number;
}

export interface SimilarImageRow {
  id: string;
  ext: string;
  distance: number;
}

/**
 * Radii tried in turn before a wider `maxDistance`: once one of them finds `limit` images, a wider search cannot
 * change the answer (anything it adds is further away), and on 1M random hashes distance 32 matches half the
 * table (seconds) while 18 already matches ~300 (20: ~1,800, each one an images lookup, twice the time of 18;
 * scripts/bench/similar.ts).
 */
const WIDENING_RADII = [10, 16, 18, 20, 24, 28];

/**
 * Live images (not deleted, not rejected by moderation) whose content is within `maxDistance` of `phash`,
 * nearest first, then oldest upload first.
 * @throws {RangeError} when `phash` does not fit in 64 bits or `maxDistance` is not an integer 0..64
 */
export async function findImagesNearPhash(db: Executor, search: SimilarImagesSearch): Promise<SimilarImageRow[]> {
  // Built first so a bad argument throws before any narrower search runs.
  const widest = similarImagesQuery(db, search);
  for (const maxDistance of WIDENING_RADII.filter((radius) => radius < search.maxDistance)) {
    const rows = await similarImagesQuery(db, { ...search, maxDistance });
    if (rows.length >= search.limit) return rows;
  }
  return widest;
}

/**
 * One search at `maxDistance`, unexecuted, so tests and benchmarks can EXPLAIN it. The near assets are found
 * first, as an array (see {@link phashNear}): PostgreSQL cannot estimate the `bit_count` filter (it assumes a
 * third of the candidates pass, when a handful do), and joined directly it would hash the whole images table from
 * distance ~12 on. This way images are only ever looked up by their asset index, and only the near assets' rows
 * are read to leave out rejected ones and generations being deleted.
 */
export function similarImagesQuery(db: Executor, search: SimilarImagesSearch) {
  const near = phashNear(assets, search.phash, search.maxDistance);
  return db
    .select({ id: images.id, ext: assets.ext, distance: near.distance })
    .from(images)
    .innerJoin(assets, eq(assets.id, images.assetId))
    .where(
      and(
        sql`${images.assetId} = any(array(${near.ids}))`,
        isNull(images.deletedAt),
        ne(images.id, search.excludeImageId),
        notRejected,
        isNull(assets.deletingAt),
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
