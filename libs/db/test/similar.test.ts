import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBlockedHashesNear, findImagesNearPhash, similarImagesQuery } from '../src/queries/similar';
import { assets, blockedHashes, images, type NewAsset } from '../src/schema';
import { createThrowawayDatabase, type ThrowawayDatabase } from './throwaway-database';

/** xorshift64*: the same "random" hashes on every run, so a failure can be reproduced. */
function seededHashes(seed: bigint) {
  let state = seed;
  return () => {
    state ^= state >> 12n;
    state ^= BigInt.asUintN(64, state << 25n);
    state ^= state >> 27n;
    return BigInt.asUintN(64, state * 0x2545f4914f6cdd1dn);
  };
}

function distanceOf(a: bigint, b: bigint): number {
  let count = 0;
  for (let diff = BigInt.asUintN(64, a ^ b); diff !== 0n; diff &= diff - 1n) count++;
  return count;
}

/** Every [q0, q1, q2, q3] count of differing bits per quarter that adds up to `distance`. */
function spreadsOf(distance: number): number[][] {
  const spreads: number[][] = [];
  for (let a = 0; a <= Math.min(16, distance); a++) {
    for (let b = 0; b <= Math.min(16, distance - a); b++) {
      for (let c = 0; c <= Math.min(16, distance - a - b); c++) {
        if (distance - a - b - c <= 16) spreads.push([a, b, c, distance - a - b - c]);
      }
    }
  }
  return spreads;
}

/** `hash` with `spread[q]` random bits flipped inside quarter q (q0 = the most significant 16 bits). */
function flipSpread(hash: bigint, spread: number[], random: () => bigint): bigint {
  const bits: number[] = [];
  spread.forEach((count, quarter) => {
    const inQuarter = new Set<number>();
    while (inQuarter.size < count) inQuarter.add((3 - quarter) * 16 + Number(random() % 16n));
    bits.push(...inQuarter);
  });
  return flip(hash, bits);
}

/** `hash` with the given bit positions (0 = least significant) flipped. */
function flip(hash: bigint, bits: number[]): bigint {
  return bits.reduce((value, bit) => value ^ (1n << BigInt(bit)), hash);
}

function assetRow(sha256: string, phash: bigint | null, extra: Partial<NewAsset> = {}): NewAsset {
  return {
    id: sha256,
    sha256,
    format: 'jpeg',
    mime: 'image/jpeg',
    ext: 'jpg',
    width: 640,
    height: 480,
    orientation: 1,
    pages: 1,
    bytes: 1000,
    originalKey: `originals/${sha256}`,
    phash: phash === null ? null : BigInt.asIntN(64, phash),
    ...extra,
  };
}

describe('findImagesNearPhash', () => {
  let database: ThrowawayDatabase;
  const query = 0xd1da_dfd3_8646_20b2n;
  const next = seededHashes(0x9e37_79b9_7f4a_7c15n);
  /** Every searchable image (live, not rejected) with its content's hash, to compare against a brute-force scan. */
  const searchable = new Map<string, bigint>();

  beforeAll(async () => {
    database = await createThrowawayDatabase();
    const rows: NewAsset[] = [];
    const add = (id: string, phash: bigint) => {
      rows.push(assetRow(id, phash));
      searchable.set(id, phash);
    };
    // Random hashes, most of them far away: what the candidate filter must skip without missing a near one.
    for (let i = 0; i < 10_000; i++) add(`random-${i}`, next());
    // Near neighbours at every distance up to 32, the flipped bits spread at random over the quarters.
    for (let distance = 0; distance <= 32; distance++) {
      for (let copy = 0; copy < 3; copy++) {
        const positions = new Set<number>();
        while (positions.size < distance) positions.add(Number(next() % 64n));
        add(`near-${distance}-${copy}`, flip(query, [...positions]));
      }
    }
    // Every way 6, 10 or 16 differing bits can fall over the four quarters: the probes are only just wide enough
    // for the worst of these, so a radius one bit too small somewhere misses one.
    for (const distance of [6, 10, 16]) {
      for (const spread of spreadsOf(distance)) add(`spread-${spread.join('-')}`, flipSpread(query, spread, next));
    }
    rows.push(assetRow('rejected', flip(query, [0]), { moderationVerdict: 'reject', status: 'rejected' }));
    // A generation being deleted: its last upload is gone or going, and nothing may point at it any more.
    rows.push(assetRow('deleting', flip(query, [1]), { deletingAt: new Date() }));
    rows.push(assetRow('unhashed', null));
    rows.push(assetRow('self', query));
    for (let i = 0; i < rows.length; i += 5000) await database.db.insert(assets).values(rows.slice(i, i + 5000));

    const imageRows = rows.map((row) => ({ id: row.sha256, assetId: row.sha256, deleteTokenHash: 'x' }));
    imageRows.push({ id: 'self-copy', assetId: 'self', deleteTokenHash: 'x' });
    imageRows.push({ id: 'deleted-copy', assetId: 'self', deleteTokenHash: 'x' });
    for (let i = 0; i < imageRows.length; i += 5000) await database.db.insert(images).values(imageRows.slice(i, i + 5000));
    await database.db.update(images).set({ deletedAt: new Date() }).where(eq(images.id, 'deleted-copy'));
    searchable.set('self-copy', query);
    // VACUUM sets the visibility map, without which an index-only scan reads the table for every entry anyway.
    await database.db.execute(sql`vacuum (analyze) assets, images`);
  });
  afterAll(async () => database?.drop());

  const search = (maxDistance: number, limit = 30_000) =>
    findImagesNearPhash(database.db, { phash: query, maxDistance, excludeImageId: 'self', limit });

  it.each([0, 3, 4, 6, 10, 16, 25, 32])('max distance %i: exactly what a full scan finds, nearest first', async (maxDistance) => {
    const expected = [...searchable]
      .map(([id, phash]) => ({ id, distance: distanceOf(query, phash) }))
      .filter((row) => row.distance <= maxDistance);
    const found = await search(maxDistance);
    expect(found.map((row) => row.distance)).toEqual([...found.map((row) => row.distance)].sort((a, b) => a - b));
    expect(found.map(({ id, distance }) => ({ id, distance })).sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      expected.sort((a, b) => a.id.localeCompare(b.id)),
    );
  });

  it('keeps another upload of the same bytes (distance 0) and leaves out the image itself, deleted, rejected and deleting ones', async () => {
    const found = await search(10);
    expect(found).toContainEqual({ id: 'self-copy', ext: 'jpg', distance: 0 });
    const ids = found.map((row) => row.id);
    expect(ids).not.toContain('self');
    expect(ids).not.toContain('deleted-copy');
    expect(ids).not.toContain('rejected');
    expect(ids).not.toContain('deleting');
  });

  it('stops at the limit, keeping the nearest', async () => {
    const found = await search(32, 5);
    expect(found).toHaveLength(5);
    expect(found.map((row) => row.distance)).toEqual([0, 0, 0, 0, 1]);
  });

  it('checks each candidate against the hash in its quarter index alone: four index-only scans, no table read', async () => {
    // On a table this small a scan is cheaper and PostgreSQL rightly picks it; with scans priced out, the plan shows
    // the candidate filter is answered from the covering indexes (scripts/bench/similar.ts shows the planner
    // choosing this on 1M hashes). Heap fetches would mean a candidate's distance was checked on its table row.
    const plan = await database.db.transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      const search = similarImagesQuery(tx, { phash: query, maxDistance: 10, excludeImageId: 'self', limit: 50 });
      return tx.execute<{ 'QUERY PLAN': string }>(sql`explain (analyze, costs off) ${search}`);
    });
    const text = plan.map((row) => row['QUERY PLAN']).join('\n');
    for (const q of [0, 1, 2, 3]) expect(text).toContain(`Index Only Scan using assets_phash_q${q}_idx`);
    expect(text.match(/Heap Fetches: \d+/g)).toEqual(Array(4).fill('Heap Fetches: 0'));
    expect(text).not.toMatch(/Seq Scan on assets|Bitmap Heap Scan on assets/);
  });

  it('refuses a distance it cannot search', async () => {
    await expect(search(65)).rejects.toThrow('Expected integer between 0 and 64 for maxDistance but received 65 of type number');
  });
});

describe('findBlockedHashesNear', () => {
  let database: ThrowawayDatabase;
  const blocked = 0xc5c1_d236_3793_c9c9n;

  beforeAll(async () => {
    database = await createThrowawayDatabase();
    await database.db.insert(blockedHashes).values([
      { id: 'exact', phash: BigInt.asIntN(64, blocked), reason: 'reported' },
      // Six bits, two in each of the three upper quarters: only the bottom quarter matches exactly.
      { id: 'six-away', phash: BigInt.asIntN(64, flip(blocked, [63, 62, 47, 46, 31, 30])) },
      { id: 'seven-away', phash: BigInt.asIntN(64, flip(blocked, [63, 62, 47, 46, 31, 30, 0])) },
      { id: 'unrelated', phash: BigInt.asIntN(64, ~blocked) },
    ]);
  });
  afterAll(async () => database?.drop());

  it('finds the entries within the distance, nearest first, with their distance', async () => {
    const found = await findBlockedHashesNear(database.db, blocked, 6);
    expect(found.map(({ id, distance, reason }) => ({ id, distance, reason }))).toEqual([
      { id: 'exact', distance: 0, reason: 'reported' },
      { id: 'six-away', distance: 6, reason: null },
    ]);
  });

  it('matches a hash near a blocked one, whichever of them is the query', async () => {
    const upload = flip(blocked, [5, 21]);
    expect((await findBlockedHashesNear(database.db, upload, 6)).map(({ id, distance }) => ({ id, distance }))).toEqual([
      { id: 'exact', distance: 2 },
    ]);
    expect(await findBlockedHashesNear(database.db, flip(blocked, [1, 2, 3, 17, 18, 19, 33, 49]), 6)).toEqual([]);
  });
});
