import { existsSync, readdirSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { AppError, InvalidImageError, TooManyPixelsError, UnsupportedTypeError } from '@renditions/errors';
import { jpegSegments } from '../src/jpeg-segments';
import { probeImage } from '../src/probe';
import {
  duplicateJpegSegment,
  flipBits,
  maxJpegSegmentLength,
  mulberry32,
  randomInt,
  truncate,
  type Mutator,
} from '../../../test/support/mutations';
import { acceptedCorpusFiles, corpusPath, readCorpus } from './corpus';

const DEFAULT_LIMIT = { maxInputPixels: 100_000_000, maxAnimationFrames: 300, maxAnimationPixels: 150_000_000 };

async function probeError(input: string | Buffer, opts = DEFAULT_LIMIT): Promise<unknown> {
  return probeImage(input, opts).then(
    (probe) => new Error(`expected a rejection, got ${JSON.stringify(probe)}`),
    (error: unknown) => error,
  );
}

describe('probeImage: accepted files', () => {
  it.each(acceptedCorpusFiles())('accepts %s with its displayed size', async (file) => {
    const probe = await probeImage(corpusPath(file), DEFAULT_LIMIT);
    const meta = await sharp(readCorpus(file)).metadata();
    // sharp 0.34's own auto-oriented size agrees with ours (animations: one frame).
    expect({ width: probe.width, height: probe.height }).toEqual({
      width: meta.autoOrient.width,
      height: meta.pageHeight ?? meta.autoOrient.height,
    });
    expect(probe.orientation).toBeGreaterThanOrEqual(1);
    expect(probe.orientation).toBeLessThanOrEqual(8);
  });

  it.each([0, 1, 2, 3, 4, 5, 6, 7, 8])('orientation/Landscape_%i.jpg displays as 1800x1200', async (n) => {
    const probe = await probeImage(readCorpus(`orientation/Landscape_${n}.jpg`), DEFAULT_LIMIT);
    expect(probe).toEqual({ format: 'jpeg', mime: 'image/jpeg', ext: 'jpg', width: 1800, height: 1200, orientation: n === 0 ? 1 : n, pages: 1 });
  });

  it('swaps a real camera photo with orientation 6 to portrait', async () => {
    expect(await probeImage(readCorpus('photos/canon_hdr_NO.jpg'), DEFAULT_LIMIT)).toMatchObject({ width: 1536, height: 2048, orientation: 6 });
  });

  it('describes animations by frame, with their frame count', async () => {
    expect(await probeImage(readCorpus('formats/rotating-squares.gif'), DEFAULT_LIMIT)).toEqual({
      format: 'gif', mime: 'image/gif', ext: 'gif', width: 80, height: 80, orientation: 1, pages: 30,
    });
    expect(await probeImage(readCorpus('formats/rotating-squares.webp'), DEFAULT_LIMIT)).toMatchObject({ width: 80, height: 80, pages: 9 });
  });

  it('reads AVIF (with its irot/imir applied by the decoder) and TIFF', async () => {
    expect(await probeImage(readCorpus('orientation/rot1mir0.avif'), DEFAULT_LIMIT)).toMatchObject({ format: 'avif', mime: 'image/avif', ext: 'avif', width: 640, height: 427 });
    expect(await probeImage(readCorpus('formats/tiff_adobe_deflate.tif'), DEFAULT_LIMIT)).toMatchObject({ format: 'tiff', mime: 'image/tiff', ext: 'tif', width: 278, height: 374 });
  });

  it('accepts a path and a buffer alike', async () => {
    const file = 'photos/DSCN0010.jpg';
    expect(await probeImage(corpusPath(file), DEFAULT_LIMIT)).toEqual(await probeImage(readCorpus(file), DEFAULT_LIMIT));
  });

  it('validates the 12 MP photo quickly (shrink-on-load decode)', async () => {
    const bytes = readCorpus('photos/42_IndexError.jpg');
    await probeImage(bytes, DEFAULT_LIMIT);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      await probeImage(bytes, DEFAULT_LIMIT);
      times.push(performance.now() - start);
    }
    const median = times.sort((a, b) => a - b)[2]!;
    console.info(`probeImage(photos/42_IndexError.jpg, 12 MP): median ${median.toFixed(1)} ms`);
    expect(median).toBeLessThan(1000); // generous: the machine is shared; expect ~70 ms
  });
});

describe('probeImage: refused files', () => {
  it.each([
    ['bad/SVG-alert.svg', /Expected a JPEG, PNG, GIF, WebP, AVIF or TIFF image; the bytes are application\/xml/],
    ['bad/html_page.jpg', /match no known image signature/],
    ['formats/IMG_5195.HEIC', /the bytes are image\/heic/],
    ['bad/empty.jpg', /the file is empty/],
    ['formats/testimgl.jpg', /lossless JPEG \(SOF3\)/],
  ])('%s is an unsupported type (415)', async (file, message) => {
    const error = await probeError(readCorpus(file));
    expect(error).toBeInstanceOf(UnsupportedTypeError);
    expect((error as AppError).httpStatus).toBe(415);
    expect((error as Error).message).toMatch(message);
  });

  it.each([
    ['bad/truncated.jpg', /premature end of JPEG/],
    ['bad/truncated.png', /IDAT.*declares 32768 bytes/],
    ['bad/xcsn0g01.png', /IDAT.*CRC/],
    ['bad/broken.png', /Expected a readable PNG header/],
    ['bad/corrupt-header.jpg', /Expected a readable JPEG header/],
    ['bad/huge_eXIf_chunk.png', /Expected a readable PNG header/],
  ])('%s is an invalid image (422)', async (file, message) => {
    const error = await probeError(readCorpus(file));
    expect(error).toBeInstanceOf(InvalidImageError);
    expect((error as AppError).httpStatus).toBe(422);
    expect((error as Error).message).toMatch(message);
  });

  it('bad/invalid_multiframe.gif is rejected cleanly or accepted, never a crash', async () => {
    const outcome = await probeImage(readCorpus('bad/invalid_multiframe.gif'), DEFAULT_LIMIT).catch((error: unknown) => error);
    if (outcome instanceof Error) expect(outcome).toBeInstanceOf(InvalidImageError);
    else expect(outcome).toMatchObject({ format: 'gif' });
  });

  it('a JPEG cut anywhere in its scan data is invalid', async () => {
    const photo = readCorpus('photos/DSCN0010.jpg');
    for (const fraction of [0.3, 0.9, 0.999]) {
      expect(await probeError(photo.subarray(0, Math.floor(photo.length * fraction)))).toBeInstanceOf(InvalidImageError);
    }
  });

  it('a PNG whose zlib data is corrupt (CRCs recomputed, so only the decoder can tell) is invalid', async () => {
    const png = Buffer.from(readCorpus('kodak/kodim03.png'));
    const idat = png.indexOf('IDAT', 0, 'latin1') - 4;
    const length = png.readUInt32BE(idat);
    for (let i = 0; i < 50; i++) png[idat + 8 + 1000 + i * 97]! ^= 0xff;
    png.writeUInt32BE(crc32(png.subarray(idat + 4, idat + 8 + length)), idat + 8 + length);
    const error = await probeError(png);
    expect(error).toBeInstanceOf(InvalidImageError);
    expect((error as Error).message).toMatch(/Expected complete PNG image data; decoding failed/);
  });

  it('a JPEG with stray bytes between segments (a libjpeg warning, browsers show it) is accepted', async () => {
    const photo = readCorpus('photos/DSCN0010.jpg');
    const dqt = [...jpegSegments(photo)].find((s) => s.marker === 0xdb)!.start;
    const odd = Buffer.concat([photo.subarray(0, dqt), Buffer.from([0, 0]), photo.subarray(dqt)]);
    await expect(probeImage(odd, DEFAULT_LIMIT)).resolves.toMatchObject({ width: 640, height: 480 });
  });

  it.each([
    ['bad/65536-uint32-limit.png', /the image declares 65536x65536 \(4294967296 pixels\)/],
    ['bad/giant-image.jpg', /the image declares 20000x14000 \(280000000 pixels\)/],
  ])('%s has too many pixels (422) at the default limit, from its header alone', async (file, message) => {
    const start = performance.now();
    const error = await probeError(readCorpus(file));
    expect(error).toBeInstanceOf(TooManyPixelsError);
    expect((error as Error).message).toMatch(/Expected at most 100000000 pixels/);
    expect((error as Error).message).toMatch(message);
    expect(performance.now() - start).toBeLessThan(500); // decoding either would take seconds and gigabytes
  });

  it('the limit is inclusive', async () => {
    const bytes = readCorpus('photos/DSCN0010.jpg'); // 640x480
    await expect(probeImage(bytes, { ...DEFAULT_LIMIT, maxInputPixels: 640 * 480 })).resolves.toMatchObject({ width: 640 });
    expect(await probeError(bytes, { ...DEFAULT_LIMIT, maxInputPixels: 640 * 480 - 1 })).toBeInstanceOf(TooManyPixelsError);
  });

  it('counts every frame of an animation against the animation pixel limit', async () => {
    const gif = readCorpus('formats/rotating-squares.gif'); // 30 frames of 80x80 = 192000 pixels
    const limits = { ...DEFAULT_LIMIT, maxInputPixels: 6400 };
    await expect(probeImage(gif, { ...limits, maxAnimationPixels: 192_000 })).resolves.toMatchObject({ pages: 30 });
    const error = await probeError(gif, { ...limits, maxAnimationPixels: 191_999 });
    expect(error).toBeInstanceOf(TooManyPixelsError);
    expect((error as AppError).httpStatus).toBe(422);
    expect((error as Error).message).toMatch(
      /Expected at most 191999 pixels in all frames together; the animation declares 30 frames of 80x80 \(192000 pixels\)/,
    );
  });

  it('caps the frame count of an animation, still images aside', async () => {
    const webp = readCorpus('formats/rotating-squares.webp'); // 9 frames
    await expect(probeImage(webp, { ...DEFAULT_LIMIT, maxAnimationFrames: 9 })).resolves.toMatchObject({ pages: 9 });
    const error = await probeError(webp, { ...DEFAULT_LIMIT, maxAnimationFrames: 8 });
    expect(error).toBeInstanceOf(TooManyPixelsError);
    expect((error as Error).message).toMatch(/Expected an animation of at most 8 frames; this one declares 9 frames of 80x80/);
    await expect(probeImage(readCorpus('formats/hopper.gif'), { ...DEFAULT_LIMIT, maxAnimationFrames: 1 })).resolves.toMatchObject({ pages: 1 });
  });
});

describe('probeImage: baseline JPEGs validated by their structure and a skeleton', () => {
  /** The validation decode of the whole file: the verdict that checking a skeleton must never contradict. */
  const fullDecodeAccepts = (bytes: Buffer) =>
    sharp(bytes, { failOn: 'error', limitInputPixels: DEFAULT_LIMIT.maxInputPixels })
      .resize(64, 64, { fit: 'inside', withoutEnlargement: true, fastShrinkOnLoad: true })
      .raw()
      .toBuffer()
      .then(
        () => true,
        () => false,
      );

  /** Data cut short with an EOI put back: libjpeg pads the rest, and refuses it only when restart markers go missing. */
  const truncateWithEoi: Mutator = (source, rng) => {
    const length = randomInt(rng, 1, source.length);
    return { bytes: Buffer.concat([source.subarray(0, length), Buffer.from([0xff, 0xd9])]), mutation: `truncate+EOI(at ${length})` };
  };

  it('never accepts a damaged JPEG that a full decode refuses', { timeout: 60_000 }, async () => {
    const rng = mulberry32(0x6a706567);
    const mutators = [flipBits(1), flipBits(64), flipBits(2_000), flipBits(4, 2_000), truncate(), truncateWithEoi, duplicateJpegSegment, maxJpegSegmentLength];
    const sources = ['photos/nikon-e950.jpg', 'photos/DSCN0010.jpg', 'photos/Canon_40D.jpg', 'formats/concert.jpg'];
    const disagreements: string[] = [];
    const outcomes = { accepted: 0, refused: 0 };
    for (const file of sources) {
      for (const mutator of mutators) {
        for (let i = 0; i < 6; i++) {
          const mutant = mutator(readCorpus(file), rng);
          if (!mutant) continue;
          const accepted = await probeImage(mutant.bytes, DEFAULT_LIMIT).then(() => true, () => false);
          outcomes[accepted ? 'accepted' : 'refused'] += 1;
          if (accepted && !(await fullDecodeAccepts(mutant.bytes))) disagreements.push(`${file} ${mutant.mutation}`);
        }
      }
    }
    expect(disagreements).toEqual([]);
    // Both verdicts were exercised, each many times.
    expect(outcomes.accepted).toBeGreaterThan(40);
    expect(outcomes.refused).toBeGreaterThan(40);
  });

  it('still refuses a JPEG whose restart markers went missing with the data around them, as a full decode does', async () => {
    // A restart marker every 4 MCUs: libjpeg warns at each of the thousands it misses, and libvips gives up.
    const photo = readCorpus('photos/42_IndexError.jpg');
    const cut = Buffer.concat([photo.subarray(0, Math.floor(photo.length / 2)), Buffer.from([0xff, 0xd9])]);
    expect(await fullDecodeAccepts(cut)).toBe(false);
    const error = await probeError(cut);
    expect(error).toBeInstanceOf(InvalidImageError);
    expect((error as Error).message).toMatch(/Expected complete JPEG image data; decoding failed/);
  });
});

describe('probeImage: container bombs and resources', () => {
  /** `count` empty comment segments (ff fe 00 02) right after SOI. */
  function withComments(jpeg: Buffer, count: number): Buffer {
    return Buffer.concat([jpeg.subarray(0, 2), Buffer.alloc(4 * count).fill(Buffer.from([0xff, 0xfe, 0x00, 0x02])), jpeg.subarray(2)]);
  }

  it('still refuses a lossless JPEG whose frame header hides behind thousands of segments', async () => {
    const error = await probeError(withComments(readCorpus('formats/testimgl.jpg'), 5_000));
    expect(error).toBeInstanceOf(UnsupportedTypeError);
    expect((error as Error).message).toMatch(/lossless JPEG \(SOF3\)/);
  });

  it('refuses a JPEG with more segments before its frame header than any real one (422)', async () => {
    const error = await probeError(withComments(readCorpus('photos/DSCN0010.jpg'), 10_000));
    expect(error).toBeInstanceOf(InvalidImageError);
    expect((error as Error).message).toMatch(/Expected intact JPEG segments; too many segments/);
  });

  it('passes a file system error through, not as a validation failure', async () => {
    const error = await probeError(corpusPath('photos/no-such-file.jpg'));
    expect(error).not.toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'ENOENT' });
  });

  it.runIf(existsSync('/proc/self/fd'))('closes the file whatever the verdict', async () => {
    const files = ['photos/DSCN0010.jpg', 'bad/SVG-alert.svg', 'bad/xcsn0g01.png', 'bad/truncated.jpg', 'bad/giant-image.jpg', 'formats/testimgl.jpg'];
    const before = readdirSync('/proc/self/fd').length;
    for (let round = 0; round < 5; round++) {
      await Promise.all(files.map((file) => probeImage(corpusPath(file), DEFAULT_LIMIT).catch(() => undefined)));
    }
    expect(readdirSync('/proc/self/fd').length).toBeLessThanOrEqual(before);
  });
});
