import { recordPhash } from '@renditions/db';
import { computePhash } from '@renditions/imaging';
import { defineStage } from './definition';

/** The 64-bit DCT perceptual hash behind near-duplicate search and the blocklist; without it the image still serves. */
export const phashStage = defineStage({
  name: 'phash',
  attempts: 5,
  after: [],
  failsImage: false,
  async run({ services, asset, commit }) {
    const phash = await computePhash(await services.storage.getBuffer(asset.originalKey));
    await commit({
      // PostgreSQL's bigint is signed; the hash's 64 bits are stored as they are.
      record: (tx) => recordPhash(tx, asset.id, BigInt.asIntN(64, phash)),
      announce: ['image.updated'],
      completes: true,
    });
    return { outcome: 'done' };
  },
});
