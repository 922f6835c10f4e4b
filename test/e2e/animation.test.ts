import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, expectNothingLeftBehind, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { fetchBytes, upload, waitForImage, type UploadResponse } from '../support/http';
import { meanAbsDiff, smallRgb as thumbnail } from '../../libs/imaging/test/pixels';

/** An animated GIF of `frames` frames of width x height, consecutive frames different so none is merged away. */
async function animatedGif(frames: number, width: number, height: number): Promise<Buffer> {
  const frame = (background: string) => sharp({ create: { width, height, channels: 3, background } }).png().toBuffer();
  const colours = [await frame('#000000'), await frame('#ffffff')];
  const gif = await sharp(Array.from({ length: frames }, (_, i) => colours[i % 2]!), { join: { animated: true } })
    .gif({ delay: 40 })
    .toBuffer();
  expect((await sharp(gif).metadata()).pages).toBe(frames);
  return gif;
}

describe('animations: capped at upload, WebP renditions stay animated', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    // Pixel cap just above rotating-squares.gif (30 frames of 80x80 = 192000 pixels); frames at the default 300.
    ctx = await createTestContext({ env: { MAX_ANIMATION_PIXELS: '200000' } });
  });
  afterAll(async () => ctx?.stop());

  it('refuses an animation of more than MAX_ANIMATION_FRAMES frames with 422, leaving nothing behind', async () => {
    const response = await upload(ctx.url, await animatedGif(400, 4, 4));
    expect(response.status).toBe(422);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('too_many_pixels');
    expect(error.message).toMatch(/at most 300 frames; this one declares 400 frames of 4x4/);
    await expectNothingLeftBehind(ctx);
  });

  it('refuses an animation of more than MAX_ANIMATION_PIXELS pixels in all with 422, leaving nothing behind', async () => {
    const response = await upload(ctx.url, await animatedGif(40, 80, 80)); // 256000 pixels
    expect(response.status).toBe(422);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('too_many_pixels');
    expect(error.message).toMatch(/at most 200000 pixels in all frames together; the animation declares 40 frames of 80x80 \(256000 pixels\)/);
    await expectNothingLeftBehind(ctx);
  });

  it.each([
    ['formats/rotating-squares.gif', 'gif'],
    ['formats/rotating-squares.webp', 'webp'],
  ])('%s is accepted; webp renditions are animated, jpg and avif its first frame', async (file, format) => {
    const source = readCorpus(file);
    const response = await upload(ctx.url, source);
    expect(response.status).toBe(201);
    const created = (await response.json()) as UploadResponse;
    expect([created.width, created.height]).toEqual([80, 80]); // one frame, not the strip of all frames
    const image = await waitForImage(ctx.url, created.id, undefined, 300_000);
    expect(image.status).toBe('ready');

    // Encoders merge identical consecutive frames (lengthening their delay): the running time is what must stay.
    const duration = (await sharp(source).metadata()).delay!.reduce((sum, delay) => sum + delay, 0);
    const original = await fetchBytes(image.url);
    const originalMeta = await sharp(original.body, { animated: true }).metadata();
    expect([originalMeta.format, originalMeta.pageHeight, originalMeta.delay?.reduce((sum, d) => sum + d, 0)]).toEqual([format, 80, duration]);
    expect(originalMeta.pages).toBeGreaterThan(1);

    const firstFrame = await thumbnail(source, 40, 40);
    for (const rendition of image.renditions) {
      const { body } = await fetchBytes(rendition.url);
      const meta = await sharp(body, { animated: true }).metadata();
      const label = `${rendition.size}.${rendition.format}`;
      expect([meta.width, meta.pageHeight ?? meta.height], label).toEqual([rendition.width, rendition.height]);
      if (rendition.format === 'webp') {
        expect(meta.pages, label).toBeGreaterThan(1);
        expect(meta.height, label).toBe(rendition.height * meta.pages!);
        expect(meta.delay?.reduce((sum, d) => sum + d, 0), label).toBe(duration);
      } else {
        expect(meta.pages ?? 1, label).toBe(1);
      }
      if (rendition.size === 'h' && rendition.format !== 'webp') {
        expect(meanAbsDiff(await thumbnail(body, 40, 40), firstFrame), label).toBeLessThan(3);
      }
    }
  });
});
