/**
 * Storage keys: every object of an asset generation lives under its own prefix, so deleting a generation removes
 * everything under it (also what a killed job stored without recording) and never touches another generation.
 */
export const storageKeys = {
  prefix: (assetId: string) => `assets/${assetId}/`,
  original: (assetId: string) => `assets/${assetId}/original`,
  stripped: (assetId: string, ext: string) => `assets/${assetId}/stripped.${ext}`,
  rendition: (assetId: string, size: string, format: string) => `assets/${assetId}/${size}.${format}`,
  /**
   * A re-rendered rendition (`npm run reprocess`), named by its content (its ETag): never the key it replaces, so
   * the old object stays served until the row moves to the new one, and a retry writes the same key again.
   */
  reRendition: (assetId: string, size: string, format: string, etag: string) =>
    `assets/${assetId}/${size}.${etag.replaceAll('"', '').slice(0, 16)}.${format}`,
};
