import { and, eq, isNull, sql } from 'drizzle-orm';
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

export async function listLiveImagesOfAsset(db: Executor, sha256: string): Promise<Image[]> {
  return db
    .select()
    .from(images)
    .where(and(eq(images.assetSha256, sha256), isNull(images.deletedAt)));
}

export async function markImageDeleted(db: Executor, id: string): Promise<void> {
  await db.update(images).set({ deletedAt: new Date() }).where(eq(images.id, id));
}

export async function countLiveImagesOfAsset(db: Executor, sha256: string): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(images)
    .where(and(eq(images.assetSha256, sha256), isNull(images.deletedAt)));
  return row?.count ?? 0;
}
