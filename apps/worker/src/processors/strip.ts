import { findAsset, setAssetMetadata, setStageStatus } from '@renditions/db';
import { readPrivateMetadata, stripMetadata } from '@renditions/imaging';
import { announceAsset, storageKeys, strongEtag, type Services } from '@renditions/pipeline';
import type { ProcessorFn } from '@renditions/queue';

/**
 * Reads the original's private metadata (camera, GPS...) for its uploader, then stores the auto-oriented,
 * metadata-free original that the CDN serves for good once it exists.
 */
export function createStripProcessor(services: Services): ProcessorFn<'strip'> {
  return async (job) => {
    const { sha256 } = job.data;
    const asset = await findAsset(services.db, sha256);
    if (!asset) return { outcome: 'skipped', detail: 'asset deleted' };
    if (asset.moderationVerdict === 'reject') return { outcome: 'skipped', detail: 'rejected by moderation' };
    if (asset.stripStatus === 'ready') return { outcome: 'skipped', detail: 'already stripped' };
    await setStageStatus(services.db, sha256, 'strip', 'processing');
    const original = await services.storage.getBuffer(asset.originalKey);
    await setAssetMetadata(services.db, sha256, await readPrivateMetadata(original));
    const stripped = await stripMetadata(original, asset as never);
    const key = storageKeys.stripped(sha256, asset.ext);
    await services.storage.put(key, stripped.data, { contentType: asset.mime, contentLength: stripped.data.length });
    const recorded = await setStageStatus(services.db, sha256, 'strip', 'ready', {
      strippedKey: key,
      strippedBytes: stripped.data.length,
      strippedEtag: strongEtag(stripped.data),
    });
    if (!recorded) {
      await services.storage.delete(key);
      return { outcome: 'skipped', detail: 'asset deleted or rejected while stripping' };
    }
    await announceAsset(services, sha256, ['image.updated']);
    return { outcome: 'done' };
  };
}
