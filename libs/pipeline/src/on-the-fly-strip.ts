import { LRUCache } from 'lru-cache';
import type { Asset } from '@renditions/db';
import { stripMetadata } from '@renditions/imaging';
import type { Services } from './services';
import { strongEtag } from './tokens';

interface StrippedPreview {
  data: Buffer;
  etag: string;
}

/**
 * Until the strip stage has stored the metadata-free original, the CDN routes strip on the fly. Re-encoding a
 * 12 MP AVIF costs seconds, and a fresh upload's page asks for the original and 18 rendition URLs at once, so
 * the result is shared: one strip per asset, concurrent requests wait for the same one. The output is a pure
 * function of the content (keyed by the asset generation), so sharing it across images of one asset is safe.
 */
const previews = new LRUCache<string, StrippedPreview, { services: Services; asset: Asset }>({
  maxSize: 256 * 1024 * 1024,
  sizeCalculation: (preview) => preview.data.length || 1,
  // Only needed for the seconds before the strip stage runs.
  ttl: 5 * 60 * 1000,
  fetchMethod: async (_assetId, _stale, { context: { services, asset } }) => {
    const stripped = await stripMetadata(await services.storage.getBuffer(asset.originalKey), asset as never);
    return { data: stripped.data, etag: strongEtag(stripped.data) };
  },
});

export async function stripOnTheFly(services: Services, asset: Asset): Promise<StrippedPreview> {
  const preview = await previews.fetch(asset.id, { context: { services, asset } });
  if (!preview) throw new Error(`could not strip asset ${asset.id} on the fly`);
  return preview;
}
