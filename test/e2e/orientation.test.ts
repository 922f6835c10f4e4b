import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageResource } from '@renditions/pipeline';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { fetchBytes, upload, waitForImage, type UploadResponse } from '../support/http';
import { meanAbsDiff, smallRgb as thumbnail } from '../../libs/imaging/test/pixels';

/** The original and a few renditions of every kind: a crop, inside boxes, each format. */
const COMPARED = ['original', 's.webp', 'm.jpg', 'l.webp', 'h.avif'] as const;

function urlOf(image: ImageResource, name: (typeof COMPARED)[number]): string {
  if (name === 'original') return image.url;
  const [size, format] = name.split('.');
  return image.renditions.find((r) => r.size === size && r.format === format)!.url;
}

async function servedGrey(image: ImageResource, name: (typeof COMPARED)[number]): Promise<Buffer> {
  const { response, body } = await fetchBytes(urlOf(image, name));
  expect(response.headers.get('x-rendition-status') ?? 'ready', name).toBe('ready');
  const meta = await sharp(body).metadata();
  const expected = name === 'original' ? image : image.renditions.find((r) => urlOf(image, name) === r.url)!;
  // The served pixels are upright: no EXIF Orientation left for a client to apply (or to get wrong).
  expect([meta.width, meta.height, meta.orientation ?? 1], name).toEqual([expected.width, expected.height, 1]);
  return thumbnail(body, 32, name.startsWith('s.') ? 32 : 21, true);
}

describe('pixels are auto-oriented in the original and every rendition', () => {
  let ctx: TestContext;
  const uploaded = new Map<string, UploadResponse>();
  const ready = new Map<string, ImageResource>();
  const FILES = [
    ...Array.from({ length: 9 }, (_, n) => `orientation/Landscape_${n}.jpg`),
    'orientation/hopper_orientation_6.webp',
    'orientation/rot1mir0.avif',
  ];

  beforeAll(async () => {
    ctx = await createTestContext();
    for (const file of FILES) uploaded.set(file, (await (await upload(ctx.url, readCorpus(file))).json()) as UploadResponse);
    for (const [file, created] of uploaded) ready.set(file, await waitForImage(ctx.url, created.id, undefined, 300_000));
  }, 600_000);
  afterAll(async () => ctx?.stop());

  it.each(Array.from({ length: 9 }, (_, n) => n))('Landscape_%i displays as 1800x1200 from the upload answer on', (n) => {
    const created = uploaded.get(`orientation/Landscape_${n}.jpg`)!;
    expect([created.width, created.height]).toEqual([1800, 1200]);
    expect(created.renditions.find((r) => r.size === 'h')).toMatchObject({ width: 1024, height: 683 });
    expect(ready.get(`orientation/Landscape_${n}.jpg`)!.status).toBe('ready');
  });

  it.each(Array.from({ length: 8 }, (_, n) => n + 1))('Landscape_%i is served upright, like Landscape_0', async (n) => {
    const reference = ready.get('orientation/Landscape_0.jpg')!;
    const image = ready.get(`orientation/Landscape_${n}.jpg`)!;
    for (const name of COMPARED) {
      const upright = await servedGrey(reference, name);
      const served = await servedGrey(image, name);
      expect(meanAbsDiff(served, upright), name).toBeLessThan(4);
    }
  }, 120_000);

  it('the comparison tells a turned or mirrored picture apart', async () => {
    const upright = await fetchBytes(urlOf(ready.get('orientation/Landscape_0.jpg')!, 'm.jpg'));
    const reference = await thumbnail(upright.body, 32, 21, true);
    for (const wrong of [sharp(upright.body).flop(), sharp(upright.body).flip(), sharp(upright.body).rotate(180)]) {
      expect(meanAbsDiff(await thumbnail(await wrong.png().toBuffer(), 32, 21, true), reference)).toBeGreaterThan(15);
    }
  });

  it('a WebP with EXIF Orientation 6 is served turned', async () => {
    const source = readCorpus('orientation/hopper_orientation_6.webp');
    const image = ready.get('orientation/hopper_orientation_6.webp')!;
    expect([image.width, image.height]).toEqual([128, 128]);
    const upright = await thumbnail(await sharp(source).rotate().png().toBuffer(), 32, 32, true);
    const sideways = await thumbnail(await sharp(source).png().toBuffer(), 32, 32, true);
    expect(meanAbsDiff(upright, sideways)).toBeGreaterThan(15);
    for (const name of ['original', 'm.jpg', 'l.webp', 'h.avif'] as const) {
      const { body } = await fetchBytes(urlOf(image, name));
      expect(meanAbsDiff(await thumbnail(body, 32, 32, true), upright), name).toBeLessThan(4);
    }
  });

  it('an AVIF turned by its HEIF irot box is 640x427 and served so', async () => {
    const source = readCorpus('orientation/rot1mir0.avif');
    const created = uploaded.get('orientation/rot1mir0.avif')!;
    expect([created.width, created.height]).toEqual([640, 427]);
    const image = ready.get('orientation/rot1mir0.avif')!;
    const displayed = await thumbnail(source, 32, 21, true); // libheif applies irot while decoding
    for (const name of ['original', 'm.jpg', 'l.webp', 'h.avif'] as const) {
      const { body } = await fetchBytes(urlOf(image, name));
      const meta = await sharp(body).metadata();
      expect(meta.width, name).toBeGreaterThan(meta.height);
      expect(meanAbsDiff(await thumbnail(body, 32, 21, true), displayed), name).toBeLessThan(4);
    }
    expect(image.renditions.find((r) => r.size === 'l' && r.format === 'webp')).toMatchObject({ width: 640, height: 427 });
  });
});
