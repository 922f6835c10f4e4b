import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordModerationVerdict } from '@renditions/db';
import { hammingDistance, phashFromHex } from '@renditions/imaging';
import { loadImage, type SimilarImages } from '@renditions/pipeline';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload, waitForImage, type UploadResponse } from '../support/http';

const HASHED_WITHIN_MS = 180_000;

/** Copies a user would re-upload: the pixels rotated upright first, since sharp drops the EXIF orientation. */
async function variantsOf(source: Buffer): Promise<Record<string, Buffer>> {
  const upright = () => sharp(source).rotate();
  const { autoOrient } = await sharp(source).metadata();
  return {
    'resized to 50%': await upright().resize(Math.round(autoOrient.width / 2)).jpeg().toBuffer(),
    'JPEG quality 25': await upright().jpeg({ quality: 25 }).toBuffer(),
    PNG: await upright().png().toBuffer(),
    WebP: await upright().webp().toBuffer(),
    '5 px black border': await upright()
      .extend({ top: 5, bottom: 5, left: 5, right: 5, background: '#000000' })
      .jpeg()
      .toBuffer(),
  };
}

async function uploaded(ctx: TestContext, file: Buffer): Promise<UploadResponse> {
  const response = await upload(ctx.url, file);
  expect(response.status).toBe(201);
  return (await response.json()) as UploadResponse;
}

/** The image's pHash, once the phash stage has stored it. */
async function hashOf(ctx: TestContext, id: string): Promise<bigint> {
  const image = await waitForImage(ctx.url, id, (current) => current.stages.phash === 'ready', HASHED_WITHIN_MS);
  return phashFromHex(image.phash!);
}

async function similar(ctx: TestContext, id: string, query = ''): Promise<Response> {
  return fetch(`${ctx.url}/api/v1/images/${id}/similar${query}`);
}

async function similarItems(ctx: TestContext, id: string, query = ''): Promise<SimilarImages> {
  const response = await similar(ctx, id, query);
  expect(response.status).toBe(200);
  return (await response.json()) as SimilarImages;
}

describe('GET /api/v1/images/:id/similar', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => ctx?.stop());

  it('finds resized, recompressed, converted and bordered copies of a photo, nearest first, and no unrelated photo', { timeout: 600_000 }, async () => {
    const source = readCorpus('photos/DSCN0040.jpg');
    const original = await uploaded(ctx, source);
    const sameBytes = await uploaded(ctx, source);
    const variants = new Map<string, UploadResponse>();
    for (const [name, bytes] of Object.entries(await variantsOf(source))) variants.set(name, await uploaded(ctx, bytes));
    const unrelated = new Map<string, UploadResponse>();
    for (const file of ['photos/DSCN0010.jpg', 'photos/DSCN0021.jpg', 'photos/DSCN0029.jpg', 'kodak/kodim01.png', 'kodak/kodim03.png']) {
      unrelated.set(file, await uploaded(ctx, readCorpus(file)));
    }
    const everyUpload = [sameBytes, ...variants.values(), ...unrelated.values()];
    const originalHash = await hashOf(ctx, original.id);
    const distanceTo = new Map<string, number>();
    for (const image of everyUpload) distanceTo.set(image.id, hammingDistance(originalHash, await hashOf(ctx, image.id)));
    const report = (uploads: Map<string, UploadResponse>) =>
      Object.fromEntries([...uploads].map(([name, image]) => [name, distanceTo.get(image.id)]));
    console.info(`pHash distances to photos/DSCN0040.jpg: variants ${JSON.stringify(report(variants))}, unrelated ${JSON.stringify(report(unrelated))}`);

    const { items, phash_status } = await similarItems(ctx, original.id);
    expect(phash_status).toBe('ready');
    expect(items.map((item) => item.id).sort()).toEqual([sameBytes.id, ...[...variants.values()].map((v) => v.id)].sort());
    expect(items[0]).toEqual({ id: sameBytes.id, distance: 0, url: sameBytes.url });
    for (const item of items) {
      expect(item.distance, item.id).toBe(distanceTo.get(item.id));
      expect(item.url).toBe(everyUpload.find((image) => image.id === item.id)!.url);
    }
    expect(items.map((item) => item.distance)).toEqual(items.map((item) => item.distance).sort((a, b) => a - b));

    const exact = await similarItems(ctx, original.id, '?max_distance=0');
    expect(exact.items.map((item) => item.id).sort()).toEqual(
      everyUpload.filter((image) => distanceTo.get(image.id) === 0).map((image) => image.id).sort(),
    );

    // The widest search allowed probes every quarter 7 or 8 bits wide and still finds exactly what is within 32.
    const widest = await similarItems(ctx, original.id, '?max_distance=32');
    const expectedWithin32 = everyUpload.filter((image) => distanceTo.get(image.id)! <= 32).map((image) => image.id);
    expect(widest.items.map((item) => item.id)).toEqual(expect.arrayContaining(expectedWithin32));
    expect(widest.items.every((item) => item.distance <= 32)).toBe(true);
  });

  it('leaves out deleted images and answers 410 for a deleted image, 404 for an unknown one', { timeout: 300_000 }, async () => {
    const source = readCorpus('photos/nikon-e950.jpg');
    const original = await uploaded(ctx, source);
    const copy = await uploaded(ctx, await sharp(source).png().toBuffer());
    await hashOf(ctx, original.id);
    await hashOf(ctx, copy.id);
    expect((await similarItems(ctx, original.id)).items.map((item) => item.id)).toEqual([copy.id]);

    const deleted = await fetch(`${ctx.url}/api/v1/images/${copy.id}`, { method: 'DELETE', headers: { 'X-Delete-Token': copy.delete_token } });
    expect(deleted.status).toBe(204);
    expect((await similarItems(ctx, original.id)).items).toEqual([]);
    const gone = await similar(ctx, copy.id);
    expect(gone.status).toBe(410);
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe('gone');

    const unknown = await similar(ctx, 'nope123');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('leaves out images rejected by moderation and answers 451 for one', { timeout: 300_000 }, async () => {
    const source = readCorpus('photos/Canon_40D.jpg');
    const original = await uploaded(ctx, source);
    const copy = await uploaded(ctx, await sharp(source).webp({ quality: 90 }).toBuffer());
    await hashOf(ctx, original.id);
    const copied = await waitForImage(ctx.url, copy.id, (image) => image.stages.moderation === 'ready', HASHED_WITHIN_MS);
    expect((await similarItems(ctx, original.id)).items.map((item) => item.id)).toEqual([copy.id]);

    const { asset } = await loadImage(ctx.services, copied.id);
    await recordModerationVerdict(ctx.services.db, asset.id, { verdict: 'reject', reason: 'test takedown' });
    expect((await similarItems(ctx, original.id)).items).toEqual([]);
    expect((await similar(ctx, copy.id)).status).toBe(451);
  });

  it('refuses a max_distance outside 0..32 with a message naming the range', async () => {
    const image = await uploaded(ctx, readCorpus('photos/Kodak_CX7530.jpg'));
    for (const value of ['33', '-1', 'abc', '1.5', '', '1e1']) {
      const response = await similar(ctx, image.id, `?max_distance=${value}`);
      expect(response.status, value).toBe(400);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe('invalid_request');
      expect(error.message).toContain(`Expected integer between 0 and 32 for max_distance but received "${value}"`);
    }
    expect((await similar(ctx, image.id, '?max_distance=0&max_distance=1')).status).toBe(400);
    for (const value of ['0', '32']) expect((await similar(ctx, image.id, `?max_distance=${value}`)).status).toBe(200);
  });
});

describe('GET /api/v1/images/:id/similar before the hash is computed', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
  });
  afterAll(async () => ctx?.stop());

  it('answers an empty list with phash_status pending, then the near-duplicates once hashed', { timeout: 300_000 }, async () => {
    const source = readCorpus('photos/Kodak_CX7530.jpg');
    const first = await uploaded(ctx, source);
    const second = await uploaded(ctx, source);
    expect(await similarItems(ctx, first.id)).toEqual({ items: [], phash_status: 'pending' });

    ctx.startWorker();
    await hashOf(ctx, first.id);
    expect(await similarItems(ctx, first.id)).toEqual({
      items: [{ id: second.id, distance: 0, url: second.url }],
      phash_status: 'ready',
    });
  });
});
