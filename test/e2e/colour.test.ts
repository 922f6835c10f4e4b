import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageResource } from '@renditions/pipeline';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { fetchBytes, upload, waitForImage, type UploadResponse } from '../support/http';
import { meanAbsDiff, smallRgb as thumbnail } from '../../libs/imaging/test/pixels';

/**
 * A wide-gamut photo: the Kodak scan's pixel values, tagged with sharp's Display P3 profile without converting
 * them, so they mean more saturated colours than the same numbers in sRGB. Shown as sRGB numbers they would
 * look washed out; converted through the profile they look right.
 */
async function displayP3Photo(): Promise<{ p3: Buffer; washedOut: Buffer }> {
  const scan = readCorpus('kodak/kodim23.png');
  const { data, info } = await sharp(scan).raw().toBuffer({ resolveWithObject: true });
  const tagged = await sharp(scan).withIccProfile('p3').png().toBuffer();
  // keepIccProfile: no colour conversion, so the composited sRGB numbers stay as they are under the P3 tag.
  const withAlpha = await sharp(tagged)
    .keepIccProfile()
    .composite([{ input: data, raw: { width: info.width, height: info.height, channels: info.channels }, blend: 'source' }])
    .png()
    .toBuffer();
  const p3 = await sharp(withAlpha).keepIccProfile().removeAlpha().png().toBuffer();
  return { p3, washedOut: scan };
}

function rendition(image: ImageResource, size: string, format: string): string {
  return image.renditions.find((r) => r.size === size && r.format === format)!.url;
}

/** Whether an ICC profile's description names `name`: ASCII in v2 profiles ('desc'), UTF-16BE in v4 ('mluc'). */
function profileNamed(icc: Buffer, name: string): boolean {
  return icc.includes(name, 0, 'latin1') || icc.includes(Buffer.from(name, 'utf16le').swap16());
}

/** A profile other than sRGB would make a client convert again (or, without colour management, show it wrong). */
function isSrgbOrAbsent(icc: Buffer | undefined): boolean {
  return icc === undefined || profileNamed(icc, 'sRGB');
}

describe('renditions are sRGB and look like the source; the original keeps its profile', () => {
  let ctx: TestContext;
  let p3: { p3: Buffer; washedOut: Buffer };
  const cmyk = readCorpus('formats/Channel_digital_image_CMYK_color.jpg');
  const images = new Map<string, ImageResource>();

  beforeAll(async () => {
    ctx = await createTestContext();
    p3 = await displayP3Photo();
    for (const [name, bytes] of [['p3', p3.p3], ['cmyk', cmyk]] as const) {
      const created = (await (await upload(ctx.url, bytes)).json()) as UploadResponse;
      images.set(name, await waitForImage(ctx.url, created.id, undefined, 300_000));
    }
  }, 600_000);
  afterAll(async () => ctx?.stop());

  it('the test image really is wide gamut: colour-managed and naive readings differ', async () => {
    const { icc } = await sharp(p3.p3).metadata();
    expect(profileNamed(icc!, 'P3')).toBe(true);
    expect(isSrgbOrAbsent(icc)).toBe(false);
    expect(meanAbsDiff(await thumbnail(p3.p3, 12, 8), await thumbnail(p3.washedOut, 12, 8))).toBeGreaterThan(4);
  });

  it.each(['h', 't'])('Display P3 -> %s renditions are sRGB, as saturated as the source', async (size) => {
    const image = images.get('p3')!;
    // Small thumbnails: the colour shift is in the low frequencies, compression noise (AVIF at 160 px) is not.
    const reference = await thumbnail(p3.p3, 12, 8);
    const naive = await thumbnail(p3.washedOut, 12, 8);
    for (const format of ['jpg', 'webp', 'avif']) {
      const { body } = await fetchBytes(rendition(image, size, format));
      const meta = await sharp(body).metadata();
      expect(meta.space, format).toBe('srgb');
      expect(isSrgbOrAbsent(meta.icc), format).toBe(true);
      const served = await thumbnail(body, 12, 8);
      const right = meanAbsDiff(served, reference);
      expect(right, format).toBeLessThan(2);
      expect(right, format).toBeLessThan(meanAbsDiff(served, naive) / 2);
    }
  });

  it('CMYK -> renditions are sRGB and look like the colour-managed source', async () => {
    const image = images.get('cmyk')!;
    const reference = await thumbnail(cmyk, 48, 32);
    const inverted = Buffer.from(reference.map((v) => 255 - v));
    for (const format of ['jpg', 'webp', 'avif']) {
      const { body } = await fetchBytes(rendition(image, 'h', format));
      const meta = await sharp(body).metadata();
      expect([meta.space, meta.channels], format).toEqual(['srgb', 3]);
      expect(isSrgbOrAbsent(meta.icc), format).toBe(true);
      const served = await thumbnail(body, 48, 32);
      expect(meanAbsDiff(served, reference), format).toBeLessThan(4);
      expect(meanAbsDiff(served, inverted), format).toBeGreaterThan(40);
    }
  });

  it.each([['p3'], ['cmyk']])('the %s original is served with its own ICC profile, so it stays right', async (name) => {
    const image = images.get(name)!;
    const source = name === 'p3' ? p3.p3 : cmyk;
    const { body } = await fetchBytes(image.url);
    const [served, original] = await Promise.all([sharp(body).metadata(), sharp(source).metadata()]);
    expect(served.icc?.equals(original.icc!)).toBe(true);
    expect(served.space).toBe(original.space);
    expect(meanAbsDiff(await thumbnail(body, 48, 32), await thumbnail(source, 48, 32))).toBeLessThan(2);
  });
});
