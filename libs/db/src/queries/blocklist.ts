import { desc, eq } from 'drizzle-orm';
import type { Executor } from '../client';
import { blockedHashes, type BlockedHash } from '../schema';

export type NewBlockedHash = Pick<typeof blockedHashes.$inferInsert, 'id' | 'phash' | 'sourceImageId' | 'reason'>;

export async function insertBlockedHash(db: Executor, entry: NewBlockedHash): Promise<BlockedHash> {
  const [row] = await db.insert(blockedHashes).values(entry).returning();
  return row as BlockedHash;
}

export async function listBlockedHashes(db: Executor): Promise<BlockedHash[]> {
  return db.select().from(blockedHashes).orderBy(desc(blockedHashes.createdAt), desc(blockedHashes.id));
}

/** Returns false when there was no such entry. */
export async function deleteBlockedHash(db: Executor, id: string): Promise<boolean> {
  const deleted = await db.delete(blockedHashes).where(eq(blockedHashes.id, id)).returning({ id: blockedHashes.id });
  return deleted.length > 0;
}
