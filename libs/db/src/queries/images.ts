import { and, asc, eq, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import type { Executor } from '../client';
import { images, type Image, type NewImage } from '../schema';

export async function insertImage(db: Executor, image: NewImage): Promise<Image> {
  const [row] = await db.insert(images).values(image).returning();
  return row as Image;
}

export async function findImage(db: Executor, id: string): Promise<Image | undefined> {
  const [row] = await db.select().from(images).where(eq(images.id, id));
  return row;
}

/** The upload a delete token was issued for, by the token's hash (the only form in which tokens are stored). */
export async function findImageByDeleteTokenHash(db: Executor, deleteTokenHash: string): Promise<Image | undefined> {
  const [row] = await db.select().from(images).where(eq(images.deleteTokenHash, deleteTokenHash)).limit(1);
  return row;
}

export async function listLiveImagesOfAsset(db: Executor, assetId: string): Promise<Image[]> {
  return db
    .select()
    .from(images)
    .where(and(eq(images.assetId, assetId), isNull(images.deletedAt)));
}

export async function countLiveImagesOfAsset(db: Executor, assetId: string): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(images)
    .where(and(eq(images.assetId, assetId), isNull(images.deletedAt)));
  return row?.count ?? 0;
}

/** Tombstones an image; returns false when it was deleted already (a second DELETE is a 410, not a new cleanup). */
export async function markImageDeleted(db: Executor, id: string): Promise<boolean> {
  const updated = await db
    .update(images)
    .set({ deletedAt: new Date() })
    .where(and(eq(images.id, id), isNull(images.deletedAt)))
    .returning({ id: images.id });
  return updated.length > 0;
}

export async function markImageCleaned(db: Executor, id: string): Promise<void> {
  await db.update(images).set({ cleanedAt: new Date() }).where(eq(images.id, id));
}

/** Deleted images whose cleanup has not finished after a while: their job was lost or keeps failing. */
export async function listUncleanedImages(db: Executor, staleBefore: Date, limit = 100): Promise<Image[]> {
  return db
    .select()
    .from(images)
    .where(and(isNotNull(images.deletedAt), isNull(images.cleanedAt), lt(images.deletedAt, staleBefore)))
    .orderBy(asc(images.deletedAt))
    .limit(limit);
}
