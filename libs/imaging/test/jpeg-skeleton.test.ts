import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ByteReader } from '../src/byte-reader';
import { jpegSegments } from '../src/jpeg-segments';
import { jpegSkeleton, JpegSkeletonScanner } from '../src/jpeg-skeleton';
import { readCorpus } from './corpus';

const skeletonOf = (bytes: Buffer) => jpegSkeleton(ByteReader.fromBuffer(bytes));

/** The offset of the `nth` (0-based) restart marker RSTn of a JPEG's scan. */
function restartMarker(jpeg: Buffer, nth: number): number {
  const scan = [...jpegSegments(jpeg)].find((segment) => segment.marker === 0xda)!;
  let found = -1;
  for (let at = scan.payloadEnd; at < scan.end; at += 1) {
    if (jpeg[at] === 0xff && jpeg[at + 1]! >= 0xd0 && jpeg[at + 1]! <= 0xd7 && (found += 1) === nth) return at;
  }
  throw new Error(`no restart marker ${nth}`);
}

function withoutEoi(jpeg: Buffer): Buffer {
  return jpeg.subarray(0, jpeg.lastIndexOf(Buffer.from([0xff, 0xd9])));
}

describe('jpegSkeleton', () => {
  it.each([
    'photos/DSCN0010.jpg', // no restart markers
    'photos/nikon-e950.jpg', // a restart marker every 100 MCUs
    'photos/42_IndexError.jpg', // 12 MP, every 4 MCUs
    'formats/Channel_digital_image_CMYK_color.jpg', // four components, Adobe marker
    'formats/concert.jpg', // one component
    'formats/gain-map.jpg', // a second image after EOI (MPF)
  ])('keeps the tables and headers of complete %s, at 1x1 and without its pixel data', async (file) => {
    const photo = readCorpus(file);
    const skeleton = await skeletonOf(photo);
    expect(skeleton).toBeDefined();
    expect(skeleton!.length).toBeLessThan(2_000);
    const kept = [...jpegSegments(skeleton!)].map((segment) => segment.marker);
    expect(kept).toEqual(expect.arrayContaining([0xdb, 0xc4, 0xda, 0xd9]));
    expect(kept).not.toContain(0xe1); // EXIF and XMP: the header read judges them, the decoder ignores them
    const { width, height } = await sharp(skeleton!).metadata();
    expect({ width, height }).toEqual({ width: 1, height: 1 });
    await expect(sharp(skeleton!, { failOn: 'error' }).raw().toBuffer()).resolves.toBeInstanceOf(Buffer);
  });

  it.each([
    ['progressive', readCorpus('formats/32-lens_data.jpeg')],
    ['arithmetic-coded', readCorpus('formats/testimgari.jpg')],
    ['lossless', readCorpus('formats/testimgl.jpg')],
    ['cut in its scan data', readCorpus('photos/DSCN0010.jpg').subarray(0, 100_000)],
    ['complete but for its EOI', withoutEoi(readCorpus('photos/DSCN0010.jpg'))],
    ['not a JPEG', readCorpus('formats/with-alpha.png')],
  ])('is undefined for a JPEG that is %s: only a decode can judge it', async (_what, bytes) => {
    expect(await skeletonOf(bytes)).toBeUndefined();
  });

  it('is undefined when restart markers are missing: data cut short, EOI appended', async () => {
    const photo = readCorpus('photos/nikon-e950.jpg');
    const cut = Buffer.concat([photo.subarray(0, restartMarker(photo, 40)), Buffer.from([0xff, 0xd9])]);
    expect(await skeletonOf(cut)).toBeUndefined();
  });

  it('is undefined when a restart marker is out of sequence', async () => {
    const photo = Buffer.from(readCorpus('photos/nikon-e950.jpg'));
    const at = restartMarker(photo, 5);
    photo[at + 1] = 0xd0 + ((photo[at + 1]! - 0xd0 + 1) % 8);
    expect(await skeletonOf(photo)).toBeUndefined();
  });

  it('is undefined when another segment follows the scan: a second scan, DNL or worse', async () => {
    const photo = readCorpus('photos/DSCN0010.jpg');
    const eoi = photo.lastIndexOf(Buffer.from([0xff, 0xd9]));
    const comment = Buffer.from([0xff, 0xfe, 0x00, 0x04, 0x68, 0x69]);
    expect(await skeletonOf(Buffer.concat([photo.subarray(0, eoi), comment, photo.subarray(eoi)]))).toBeUndefined();
  });

  it('is undefined when fill bytes precede a marker before the scan', async () => {
    const photo = readCorpus('photos/DSCN0010.jpg');
    const dqt = [...jpegSegments(photo)].find((segment) => segment.marker === 0xdb)!.start;
    expect(await skeletonOf(Buffer.concat([photo.subarray(0, dqt), Buffer.from([0xff]), photo.subarray(dqt)]))).toBeUndefined();
  });

  it('keeps every table a file declares, so libjpeg judges them as in a full decode', async () => {
    const photo = Buffer.from(readCorpus('photos/DSCN0010.jpg'));
    // The frame's first component names quantisation table 3, which the file never defines.
    const frame = [...jpegSegments(photo)].find((segment) => segment.marker === 0xc0)!;
    photo[frame.start + 12] = 3;
    const skeleton = await skeletonOf(photo);
    expect(skeleton).toBeDefined();
    await expect(sharp(skeleton!, { failOn: 'error' }).raw().toBuffer()).rejects.toThrow(/Quantization table 0x03 was not defined/);
    await expect(sharp(photo, { failOn: 'error' }).raw().toBuffer()).rejects.toThrow(/Quantization table 0x03 was not defined/);
  });

  it.each([1, 2, 3, 7, 4096, 65_536])('builds the same skeleton from bytes arriving %i at a time', async (size) => {
    const photo = readCorpus('photos/nikon-e950.jpg');
    const scanner = new JpegSkeletonScanner();
    for (let at = 0; at < photo.length && !scanner.settled; at += size) scanner.push(photo.subarray(at, at + size));
    expect(scanner.skeleton()).toEqual(await skeletonOf(photo));
    expect(scanner.skeleton()).toBeDefined();
  });

  it('has no skeleton before the last byte has arrived', () => {
    const photo = readCorpus('photos/DSCN0010.jpg');
    const scanner = new JpegSkeletonScanner();
    scanner.push(photo.subarray(0, photo.length - 1));
    expect(scanner.settled).toBe(false);
    expect(scanner.skeleton()).toBeUndefined();
    scanner.push(photo.subarray(photo.length - 1));
    expect(scanner.skeleton()).toBeDefined();
  });
});
