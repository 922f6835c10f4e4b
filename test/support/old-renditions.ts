import { and, eq } from 'drizzle-orm';
import sharp from 'sharp';
import { findAsset, listRenditions, renditions } from '@renditions/db';
import { strongEtag, type Services } from '@renditions/pipeline';

/**
 * Makes an asset's stored renditions of one format look as if an older encoder setting had made them: other bytes
 * (a low-quality encode of the same size) under the same keys, their rows' ETag and size to match. A reprocess then
 * has something to change, as it would after a settings change. Returns the served bytes per `size.format`.
 */
export async function pretendOlderEncoder(services: Services, assetId: string, format: 'jpg' | 'webp' | 'avif'): Promise<Map<string, Buffer>> {
  const asset = await findAsset(services.db, assetId);
  if (!asset) throw new Error(`no asset ${assetId}`);
  const original = await services.storage.getBuffer(asset.originalKey);
  const older = new Map<string, Buffer>();
  for (const rendition of await listRenditions(services.db, assetId)) {
    if (rendition.format !== format || !rendition.storageKey) continue;
    const resized = sharp(original).rotate().resize(rendition.width, rendition.height, { fit: 'cover' });
    const bytes = await (format === 'jpg' ? resized.jpeg({ quality: 20 }) : format === 'webp' ? resized.webp({ quality: 20 }) : resized.avif({ quality: 20 })).toBuffer();
    const contentType = format === 'jpg' ? 'image/jpeg' : `image/${format}`;
    await services.storage.put(rendition.storageKey, bytes, { contentType, contentLength: bytes.length });
    await services.db
      .update(renditions)
      .set({ etag: strongEtag(bytes), bytes: bytes.length })
      .where(and(eq(renditions.assetId, assetId), eq(renditions.size, rendition.size), eq(renditions.format, format)));
    older.set(`${rendition.size}.${format}`, bytes);
  }
  return older;
}
