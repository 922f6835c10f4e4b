import { eq } from 'drizzle-orm';
import type { Executor } from '../client';
import { assets } from '../schema';

/**
 * Records what the strip stage read from the original's EXIF before removing it. Private to the uploader: only
 * the metadata endpoint reads it back. Returns false when the asset no longer exists.
 */
export async function setAssetMetadata(db: Executor, assetId: string, metadata: Record<string, unknown>): Promise<boolean> {
  const updated = await db
    .update(assets)
    .set({ metadata, updatedAt: new Date() })
    .where(eq(assets.id, assetId))
    .returning({ id: assets.id });
  return updated.length > 0;
}
