import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { InvalidImageError } from '@renditions/errors';
import exifr from 'exifr';
import { jpegSegments } from '../src/jpeg-segments';
import { stripJpegSegments } from '../src/jpeg-strip';
import { probeImage } from '../src/probe';
import { stripMetadata } from '../src/strip';
import { acceptedCorpusFiles, readCorpus } from './corpus';
import { withOrientation } from './exif-inject';
import { findMetadata } from './metadata-check';
import { magicOf, meanAbsDiff, smallRgb } from './pixels';

const LIMIT = { maxInputPixels: 100_000_000, maxAnimationFrames: 300, maxAnimationPixels: 150_000_000 };

async function strip(source: Buffer) {
  const probe = await probeImage(source, LIMIT);
  return { probe, output: await stripMetadata(source, probe) };
}

describe('stripMetadata on every accepted corpus file', () => {
  it.each(acceptedCorpusFiles())('%s: same format, displayed size, no metadata left', async (file) => {
    const source = readCorpus(file);
    const { probe, output } = await strip(source);
    expect(magicOf(output.data)).toBe(probe.format);
    expect(output.mime).toBe(probe.mime);
    const meta = await sharp(output.data).metadata();
    expect({ width: meta.width, height: meta.pageHeight ?? meta.height }).toEqual({ width: probe.width, height: probe.height });
    expect({ width: output.width, height: output.height }).toEqual({ width: probe.width, height: probe.height });
    expect(await findMetadata(output.data)).toEqual([]);
    if (probe.pages > 1) expect(meta.pages).toBeGreaterThan(1);
  });
});

describe('stripMetadata: JPEG without rotation is lossless', () => {
  it.each(['photos/DSCN0010.jpg', 'photos/42_IndexError.jpg', 'formats/Channel_digital_image_CMYK_color.jpg', 'formats/concert.jpg'])(
    '%s keeps its exact pixels and its ICC profile',
    async (file) => {
      const source = readCorpus(file);
      const { output } = await strip(source);
      expect(output.data.equals(stripJpegSegments(source))).toBe(true);
      const [before, after] = await Promise.all([sharp(source).raw().toBuffer(), sharp(output.data).raw().toBuffer()]);
      expect(after.equals(before)).toBe(true);
      expect((await sharp(output.data).metadata()).icc).toEqual((await sharp(source).metadata()).icc);
    },
  );

  it('falls back to re-encoding when the segment structure is too odd to copy byte-wise', async () => {
    const source = readCorpus('photos/DSCN0010.jpg');
    const dqt = [...jpegSegments(source)].find((s) => s.marker === 0xdb)!.start;
    // Stray bytes between segments: libjpeg skips them with a warning, our strict walker refuses to copy them.
    const odd = Buffer.concat([source.subarray(0, dqt), Buffer.from([0x00, 0x00]), source.subarray(dqt)]);
    expect(() => stripJpegSegments(odd)).toThrow();
    const output = await stripMetadata(odd, { format: 'jpeg', mime: 'image/jpeg', orientation: 1, pages: 1 });
    expect(magicOf(output.data)).toBe('jpeg');
    expect(await findMetadata(output.data)).toEqual([]);
    expect(meanAbsDiff(await smallRgb(output.data, 64, 48), await smallRgb(source, 64, 48))).toBeLessThan(3);
  });
});

describe('stripMetadata: orientation is applied to the pixels', () => {
  it.each([2, 3, 4, 5, 6, 7, 8])('orientation/Landscape_%i.jpg becomes an upright 1800x1200 JPEG', async (n) => {
    const { output } = await strip(readCorpus(`orientation/Landscape_${n}.jpg`));
    const meta = await sharp(output.data).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([1800, 1200, undefined]);
    const upright = await smallRgb(readCorpus('orientation/Landscape_0.jpg'), 48, 32);
    expect(meanAbsDiff(await smallRgb(output.data, 48, 32), upright)).toBeLessThan(3);
  });

  it('a WebP with EXIF orientation 6 is rotated, stays WebP', async () => {
    const source = readCorpus('orientation/hopper_orientation_6.webp');
    const { output } = await strip(source);
    expect(magicOf(output.data)).toBe('webp');
    const reference = await sharp(source).rotate().png().toBuffer();
    expect(meanAbsDiff(await smallRgb(output.data, 32, 32), await smallRgb(reference, 32, 32))).toBeLessThan(4);
  });

  it('a rotated CMYK JPEG stays CMYK with its profile and its colours', async () => {
    const source = withOrientation(readCorpus('formats/Channel_digital_image_CMYK_color.jpg'), 6);
    const { probe, output } = await strip(source);
    expect(probe).toMatchObject({ width: 333, height: 500, orientation: 6 });
    const meta = await sharp(output.data).metadata();
    expect([meta.width, meta.height, meta.space, meta.orientation]).toEqual([333, 500, 'cmyk', undefined]);
    expect(meta.icc).toEqual((await sharp(source).metadata()).icc);
    const reference = await sharp(source).rotate().png().toBuffer();
    const [pixels, expected] = await Promise.all([smallRgb(output.data, 33, 50), smallRgb(reference, 33, 50)]);
    expect(meanAbsDiff(pixels, expected)).toBeLessThan(4);
    expect(meanAbsDiff(pixels, Buffer.from(expected.map((v) => 255 - v)))).toBeGreaterThan(40);
  });

  it('a rotated greyscale JPEG with a grey ICC profile stays greyscale with that profile', async () => {
    const source = withOrientation(readCorpus('formats/concert.jpg'), 8);
    const { output } = await strip(source);
    const meta = await sharp(output.data).metadata();
    expect([meta.width, meta.height, meta.space, meta.channels]).toEqual([267, 400, 'b-w', 1]);
    expect(meta.icc).toEqual((await sharp(source).metadata()).icc);
  });
});

describe('stripMetadata: other formats', () => {
  it('keeps the ICC profile of re-encoded TIFF and AVIF originals', async () => {
    for (const file of ['formats/tiff_adobe_deflate.tif', 'formats/avif-orientation-6.avif']) {
      const source = readCorpus(file);
      const { output } = await strip(source);
      expect((await sharp(output.data).metadata()).icc, file).toEqual((await sharp(source).metadata()).icc);
    }
  });

  it('keeps TIFF lossless (deflate, not sharp\'s default JPEG compression)', async () => {
    const source = readCorpus('formats/tiff_adobe_deflate.tif');
    const { output } = await strip(source);
    expect(await exifr.parse(output.data, { tiff: true, translateValues: false, pick: ['Compression'] })).toEqual({ Compression: 8 }); // Adobe deflate
    const [before, after] = await Promise.all([sharp(source).keepIccProfile().raw().toBuffer(), sharp(output.data).keepIccProfile().raw().toBuffer()]);
    expect(after.equals(before)).toBe(true);
  });

  it('keeps PNG pixels exactly, alpha and 16 bits included', async () => {
    for (const file of ['formats/with-alpha.png', 'formats/tbgn2c16.png', 'kodak/kodim03.png']) {
      const source = readCorpus(file);
      const { output } = await strip(source);
      const [before, after] = await Promise.all([sharp(source).raw({ depth: 'ushort' }).toBuffer(), sharp(output.data).raw({ depth: 'ushort' }).toBuffer()]);
      expect(after.equals(before), file).toBe(true);
    }
  });

  it.each(['formats/rotating-squares.gif', 'formats/rotating-squares.webp'])('%s stays animated with the same timing', async (file) => {
    const source = readCorpus(file);
    const { output } = await strip(source);
    const [before, after] = await Promise.all([sharp(source).metadata(), sharp(output.data).metadata()]);
    expect(after.pages).toBeGreaterThan(1);
    expect(after.loop).toBe(before.loop);
    const total = (delays: number[] | undefined) => (delays ?? []).reduce((a, b) => a + b, 0);
    expect(total(after.delay)).toBe(total(before.delay));
  });

  it('throws InvalidImageError on bytes that cannot be decoded', async () => {
    await expect(stripMetadata(Buffer.from('not an image'), { format: 'png', mime: 'image/png', orientation: 1, pages: 1 })).rejects.toBeInstanceOf(InvalidImageError);
  });
});
