import exifr from 'exifr';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { jpegFrameMarker } from '../src/jpeg-frame-marker';
import { jpegSegments } from '../src/jpeg-segments';
import { stripJpegSegments } from '../src/jpeg-strip';
import { readCorpus } from './corpus';
import { findMetadata } from './metadata-check';

function segment(marker: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt16BE(0xff00 | marker, 0);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([header, payload]);
}

/** Inserts segments right after SOI. */
function withSegments(jpeg: Buffer, ...segments: Buffer[]): Buffer {
  return Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);
}

function markers(jpeg: Buffer): string[] {
  return [...jpegSegments(jpeg)].map((s) => s.marker.toString(16));
}

const WITH_METADATA = ['photos/DSCN0010.jpg', 'photos/Kodak_CX7530.jpg', 'photos/Canon_40D.jpg', 'photos/nikon-e950.jpg',
  'photos/42_IndexError.jpg', 'photos/HMD_Nokia_8.3_5G.jpg', 'formats/32-lens_data.jpeg', 'formats/concert.jpg',
  'formats/gain-map.jpg', 'formats/Channel_digital_image_CMYK_color.jpg', 'orientation/Landscape_1.jpg'];

describe('stripJpegSegments', () => {
  it.each(WITH_METADATA)('%s: no EXIF, GPS, XMP or IPTC left, pixels identical', async (file) => {
    const source = readCorpus(file);
    const stripped = stripJpegSegments(source);
    expect(await findMetadata(stripped)).toEqual([]);
    expect(await exifr.parse(stripped)).toBeUndefined();
    const [before, after] = await Promise.all([sharp(source).raw().toBuffer(), sharp(stripped).raw().toBuffer()]);
    expect(after.equals(before)).toBe(true);
  });

  it('really had something to remove (the GPS photos carry GPS before)', async () => {
    expect(await exifr.gps(readCorpus('photos/DSCN0010.jpg'))).toMatchObject({ latitude: expect.any(Number) });
    expect(await exifr.gps(stripJpegSegments(readCorpus('photos/DSCN0010.jpg')))).toBeUndefined();
  });

  it('is idempotent', () => {
    for (const file of WITH_METADATA) {
      const once = stripJpegSegments(readCorpus(file));
      expect(stripJpegSegments(once).equals(once)).toBe(true);
    }
  });

  it('keeps the ICC profile and the Adobe segment (CMYK stays CMYK, colours stay right)', async () => {
    const cmyk = stripJpegSegments(readCorpus('formats/Channel_digital_image_CMYK_color.jpg'));
    const meta = await sharp(cmyk).metadata();
    expect(meta.space).toBe('cmyk');
    expect(meta.icc?.length).toBeGreaterThan(0);
    expect(markers(cmyk)).toContain('ee');
    expect((await sharp(stripJpegSegments(readCorpus('photos/Canon_40D.jpg'))).metadata()).icc).toBeDefined();
  });

  it('drops what follows the first EOI (MPF gain map with its own metadata) and the MPF pointer', async () => {
    const source = readCorpus('formats/gain-map.jpg');
    const stripped = stripJpegSegments(source);
    expect(stripped.subarray(-2).equals(Buffer.from([0xff, 0xd9]))).toBe(true);
    expect(stripped.includes('MPF\0', 0, 'latin1')).toBe(false);
    expect(stripped.length).toBeLessThan(source.length);
    expect((await sharp(stripped).metadata()).width).toBe(3840);
  });

  it('removes comments, Photoshop/IPTC, unknown APPn and a JFIF thumbnail', () => {
    const source = readCorpus('photos/DSCN0010.jpg');
    const jfifWithThumb = Buffer.concat([Buffer.from('JFIF\0\x01\x02\x01\x00\x48\x00\x48\x02\x02', 'latin1'), Buffer.alloc(12, 0xab)]);
    const tagged = withSegments(
      source,
      segment(0xe0, jfifWithThumb),
      segment(0xfe, Buffer.from('secret comment')),
      segment(0xed, Buffer.from('Photoshop 3.0\x008BIM secret-iptc')),
      segment(0xe9, Buffer.from('vendor secret')),
    );
    const stripped = stripJpegSegments(tagged);
    for (const secret of ['secret comment', 'secret-iptc', 'vendor secret']) expect(stripped.includes(secret)).toBe(false);
    const app0 = [...jpegSegments(stripped)].find((s) => s.marker === 0xe0)!;
    expect(app0.payloadEnd - app0.payloadStart).toBe(14);
    expect(stripped[app0.payloadStart + 12]).toBe(0);
    expect(stripped[app0.payloadStart + 13]).toBe(0);
  });

  it('throws on a segment length that runs past the end, or is below 2', () => {
    const source = readCorpus('photos/Canon_40D.jpg');
    const tooLong = Buffer.concat([source.subarray(0, 2), Buffer.from([0xff, 0xe1, 0xff, 0xff]), Buffer.alloc(10)]);
    expect(() => stripJpegSegments(tooLong)).toThrow(/declares length 65535/);
    const tooShort = Buffer.concat([source.subarray(0, 2), Buffer.from([0xff, 0xe1, 0x00, 0x01]), source.subarray(2)]);
    expect(() => stripJpegSegments(tooShort)).toThrow(/declares length 1/);
  });

  it('throws on data that is not a marker where one must be, on a missing SOI and on a missing EOI', () => {
    const source = readCorpus('photos/Canon_40D.jpg');
    expect(() => stripJpegSegments(Buffer.concat([source.subarray(0, 2), Buffer.from([0x12, 0x34]), source.subarray(2)]))).toThrow(
      /expected a marker \(0xff\) at offset 2; found 0x12/,
    );
    expect(() => stripJpegSegments(source.subarray(2))).toThrow(/SOI/);
    expect(() => stripJpegSegments(source.subarray(0, source.length - 2))).toThrow(/without EOI/);
    expect(() => stripJpegSegments(readCorpus('bad/truncated.jpg'))).toThrow(/without EOI/);
  });
});

describe('jpegFrameMarker', () => {
  it.each([
    ['photos/DSCN0010.jpg', 0xc0],
    ['formats/32-lens_data.jpeg', 0xc2],
    ['formats/testimgari.jpg', 0xc9],
    ['formats/testimgl.jpg', 0xc3],
  ])('%s has frame marker %s', async (file, marker) => {
    expect(await jpegFrameMarker(readCorpus(file))).toBe(marker);
  });
});
