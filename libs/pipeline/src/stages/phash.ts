import { recordPhash } from '@renditions/db';
import { phashOfBase, thumbhashOfBase } from '@renditions/imaging';
import { defineStage } from './definition';

/**
 * The 64-bit DCT perceptual hash behind near-duplicate search and the blocklist, and the ThumbHash placeholder,
 * both from the asset's decoded base; without them the image still serves.
 */
export const phashStage = defineStage({
  name: 'phash',
  attempts: 5,
  after: [],
  failsImage: false,
  async run({ base, commit }) {
    const decoded = await base();
    const [phash, thumbhash] = await Promise.all([phashOfBase(decoded), thumbhashOfBase(decoded)]);
    await commit({
      // PostgreSQL's bigint is signed; the hash's 64 bits are stored as they are.
      record: (tx, asset) => recordPhash(tx, asset.id, BigInt.asIntN(64, phash), thumbhash),
      announce: ['image.updated'],
      completes: true,
    });
    return { outcome: 'done' };
  },
});
