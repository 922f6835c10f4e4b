import { recordStrippedCopy, setAssetMetadata } from '@renditions/db';
import { readPrivateMetadata, stripMetadata } from '@renditions/imaging';
import { storageKeys } from '../keys';
import { strongEtag } from '../tokens';
import { defineStage } from './definition';

/**
 * Reads the original's private metadata (camera, GPS...) for its uploader, then stores the auto-oriented,
 * metadata-free original that the CDN serves for good once it exists. Until then the CDN strips on the fly, so
 * a failure here fails the image: nothing metadata-free can be cached for good.
 */
export const stripStage = defineStage({
  name: 'strip',
  attempts: 5,
  after: [],
  failsImage: true,
  async run({ asset, original, cpu, commit }) {
    const source = await original();
    const metadata = await readPrivateMetadata(source);
    const stripped = await stripMetadata(source, asset as Parameters<typeof stripMetadata>[1], { scheduler: cpu });
    const key = storageKeys.stripped(asset.id, asset.ext);
    await commit({
      objects: [{ key, data: stripped.data, contentType: asset.mime }],
      record: async (tx) => {
        await setAssetMetadata(tx, asset.id, metadata);
        await recordStrippedCopy(tx, asset.id, {
          strippedKey: key,
          strippedBytes: stripped.data.length,
          strippedEtag: strongEtag(stripped.data),
        });
      },
      announce: ['image.updated'],
      completes: true,
    });
    return { outcome: 'done' };
  },
});
