import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { assets, insertAsset, insertImage, setStageStatus, type Database } from '@renditions/db';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../../db/test/throwaway-database';
import { loadImage } from '../src/images';

const READS = 300;

let database: ThrowawayDatabase;
let db: Database;
beforeAll(async () => {
  database = await createThrowawayDatabase();
  db = database.db;
});
afterAll(async () => database?.drop());

async function recordUpload(): Promise<{ assetId: string; imageId: string }> {
  const assetId = randomBytes(8).toString('hex');
  await insertAsset(
    db,
    {
      id: assetId,
      sha256: randomBytes(32).toString('hex'),
      format: 'jpeg',
      mime: 'image/jpeg',
      ext: 'jpg',
      width: 64,
      height: 48,
      orientation: 1,
      pages: 1,
      bytes: 1000,
      originalKey: `assets/${assetId}/original.jpg`,
    },
    [{ size: 't', format: 'webp', width: 64, height: 48 }],
    ['phash'],
  );
  const imageId = randomBytes(5).toString('hex');
  await insertImage(db, { id: imageId, assetId, deleteTokenHash: 'x' });
  return { assetId, imageId };
}

describe('loadImage', () => {
  it('sees a stage and what it recorded as of one moment, while a worker commits them together', async () => {
    const { assetId, imageId } = await recordUpload();
    let writing = true;
    // The phash stage's commit, over and over: the hash and the stage's status change in one transaction.
    const writer = (async () => {
      for (let round = 0; writing; round += 1) {
        const hashed = round % 2 === 0;
        await db.transaction(async (tx) => {
          await tx.update(assets).set({ phash: hashed ? 42n : null }).where(eq(assets.id, assetId));
          await setStageStatus(tx, assetId, 'phash', hashed ? 'ready' : 'pending');
        });
      }
    })();
    const torn: string[] = [];
    try {
      for (let read = 0; read < READS; read += 1) {
        const { asset, stages } = await loadImage({ db }, imageId);
        const status = stages.find((stage) => stage.stage === 'phash')?.status;
        if ((asset.phash !== null) !== (status === 'ready')) torn.push(`phash ${asset.phash}, stage ${status}`);
      }
    } finally {
      writing = false;
      await writer;
    }
    expect(torn).toEqual([]);
  });
});
