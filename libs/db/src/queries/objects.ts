import { inArray } from 'drizzle-orm';
import type { Executor } from '../client';
import { assets, renditions } from '../schema';

/** Each key is bound once per recording column: 3 x 1,000 stays far below PostgreSQL's 65,535 parameters. */
const KEYS_PER_QUERY = 1_000;

/**
 * Which of `keys` some row records as a stored object (an asset's original or stripped copy, a rendition): the
 * sweeper removes only objects outside this set. One query per thousand keys.
 */
export async function findRecordedKeys(db: Executor, keys: string[]): Promise<Set<string>> {
  const recorded = new Set<string>();
  for (let start = 0; start < keys.length; start += KEYS_PER_QUERY) {
    const chunk = keys.slice(start, start + KEYS_PER_QUERY);
    // Nullable columns first: the first select types the union, and a non-null column fits a nullable one.
    const rows = await db
      .select({ key: renditions.storageKey })
      .from(renditions)
      .where(inArray(renditions.storageKey, chunk))
      .union(db.select({ key: assets.strippedKey }).from(assets).where(inArray(assets.strippedKey, chunk)))
      .union(db.select({ key: assets.originalKey }).from(assets).where(inArray(assets.originalKey, chunk)));
    for (const { key } of rows) if (key !== null) recorded.add(key);
  }
  return recorded;
}
