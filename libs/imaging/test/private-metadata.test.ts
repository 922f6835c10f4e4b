import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { InvalidImageError } from '@renditions/errors';
import { readPrivateMetadata } from '../src/private-metadata';
import { readCorpus } from './corpus';

const EMPTY = {
  cameraMake: null, cameraModel: null, lensMake: null, lensModel: null,
  takenAt: null, gps: null, orientation: null, exposure: null,
};

/** libvips cannot write BYTE tags from a string, so GPSAltitudeRef (tag 5, BYTE, count 1) is set to 1 in place. */
function belowSeaLevel(jpeg: Buffer): Buffer {
  const tiff = jpeg.indexOf('Exif\0\0', 0, 'latin1') + 6;
  const entry = jpeg.toString('latin1', tiff, tiff + 2) === 'II'
    ? Buffer.from([0x05, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00])
    : Buffer.from([0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01]);
  const at = jpeg.indexOf(entry, tiff);
  if (at < 0) throw new Error('no GPSAltitudeRef entry found');
  const patched = Buffer.from(jpeg);
  patched[at + entry.length] = 1;
  return patched;
}

describe('readPrivateMetadata: values recorded in MANIFEST.tsv', () => {
  it('reads a Nikon JPEG with GPS', async () => {
    const metadata = await readPrivateMetadata(readCorpus('photos/DSCN0010.jpg'));
    expect(metadata).toMatchObject({
      cameraMake: 'NIKON',
      cameraModel: 'COOLPIX P6000',
      lensMake: null,
      lensModel: null,
      takenAt: '2008-10-22T16:28:39',
      orientation: 1,
      exposure: { iso: 64, fNumber: 5.9, focalLength: 24 },
    });
    expect(metadata.gps?.latitude).toBeCloseTo(43.4674, 4);
    expect(metadata.gps?.longitude).toBeCloseTo(11.8851, 4);
    expect(metadata.gps?.altitude).toBeNull();
    expect(metadata.exposure?.exposureTime).toBeCloseTo(1 / 75, 6);
  });

  it('reads a Canon JPEG without GPS', async () => {
    expect(await readPrivateMetadata(readCorpus('photos/Canon_40D.jpg'))).toEqual({
      cameraMake: 'Canon',
      cameraModel: 'Canon EOS 40D',
      lensMake: null,
      lensModel: null,
      takenAt: '2008-05-30T15:56:01',
      gps: null,
      orientation: 1,
      exposure: { iso: 100, fNumber: 7.1, exposureTime: 0.00625, focalLength: 135 },
    });
  });

  it('reads southern latitudes as negative', async () => {
    const { gps, cameraMake } = await readPrivateMetadata(readCorpus('photos/Kodak_CX7530.jpg'));
    expect(cameraMake).toBe('EASTMAN KODAK COMPANY');
    expect(gps?.latitude).toBeCloseTo(-0.3713, 4);
    expect(gps?.longitude).toBeCloseTo(36.0564, 4);
  });

  it('keeps the UTC offset when the camera recorded one', async () => {
    const metadata = await readPrivateMetadata(readCorpus('photos/HMD_Nokia_8.3_5G.jpg'));
    expect(metadata.takenAt).toBe('2022-08-14T14:12:31+03:00');
    expect(Date.parse(metadata.takenAt!)).toBe(Date.UTC(2022, 7, 14, 11, 12, 31));
  });

  it('reads the EXIF chunk of a WebP', async () => {
    expect(await readPrivateMetadata(readCorpus('formats/flower.webp'))).toMatchObject({
      cameraMake: 'Canon',
      cameraModel: 'Canon PowerShot S40',
      takenAt: '2003-12-14T12:01:44',
      gps: null,
      exposure: { fNumber: 4.9, exposureTime: 0.002 },
    });
  });

  it('reads the Exif item of an AVIF, lens and altitude included', async () => {
    const metadata = await readPrivateMetadata(readCorpus('formats/avif-orientation-6.avif'));
    expect(metadata).toMatchObject({
      cameraMake: 'Apple',
      cameraModel: 'iPhone XS',
      lensMake: 'Apple',
      lensModel: 'iPhone XS back dual camera 4.25mm f/1.8',
      takenAt: '2020-03-05T11:28:10',
      exposure: { iso: 40, fNumber: 1.8 },
    });
    expect(metadata.gps?.latitude).toBeCloseTo(50.4397, 4);
    expect(metadata.gps?.longitude).toBeCloseTo(30.5021, 4);
    expect(metadata.gps?.altitude).toBeCloseTo(149.64, 2);
  });

  it('reads the orientation as recorded', async () => {
    expect((await readPrivateMetadata(readCorpus('photos/canon_hdr_NO.jpg'))).orientation).toBe(6);
    expect((await readPrivateMetadata(readCorpus('orientation/hopper_orientation_6.webp'))).orientation).toBe(6);
    // Landscape_0 records 0, which is no orientation at all.
    expect((await readPrivateMetadata(readCorpus('orientation/Landscape_0.jpg'))).orientation).toBeNull();
  });
});

describe('readPrivateMetadata: files without camera metadata', () => {
  it.each(['kodak/kodim01.png', 'formats/rotating-squares.gif', 'formats/tiff_adobe_deflate.tif', 'orientation/rot1mir0.avif'])(
    '%s has none',
    async (file) => {
      expect(await readPrivateMetadata(readCorpus(file))).toEqual(EMPTY);
    },
  );

  it('a PNG eXIf chunk holding only pixel dimensions has none', async () => {
    expect(await readPrivateMetadata(readCorpus('formats/with-alpha.png'))).toEqual(EMPTY);
  });
});

describe('readPrivateMetadata: signs, offsets and bad data', () => {
  it('reads western and southern positions as negative, below sea level as negative altitude, and the offset', async () => {
    const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
      .withExif({
        IFD0: { Make: 'Acme', Model: 'Diver' },
        IFD2: { DateTimeOriginal: '2021:06:01 10:00:00', OffsetTimeOriginal: '-05:00' },
        IFD3: {
          GPSLatitudeRef: 'S', GPSLatitude: '33/1 51/1 36/1',
          GPSLongitudeRef: 'W', GPSLongitude: '70/1 30/1 0/1',
          GPSAltitudeRef: '0', GPSAltitude: '12/1',
        },
      })
      .jpeg()
      .toBuffer();
    expect(await readPrivateMetadata(jpeg)).toEqual({
      ...EMPTY,
      cameraMake: 'Acme',
      cameraModel: 'Diver',
      takenAt: '2021-06-01T10:00:00-05:00',
      gps: { latitude: -33.86, longitude: -70.5, altitude: 12 },
      orientation: 1,
    });
    expect((await readPrivateMetadata(belowSeaLevel(jpeg))).gps?.altitude).toBe(-12);
  });

  it('treats a malformed EXIF block as no metadata, not as an error', async () => {
    const photo = readCorpus('photos/Canon_40D.jpg');
    const ifdOffset = photo.indexOf('Exif\0\0', 0, 'latin1') + 6 + 4;
    const broken = Buffer.from(photo);
    broken.writeUInt32LE(0xfffffff0, ifdOffset); // IFD0 points far outside the block
    expect(await readPrivateMetadata(broken)).toEqual(EMPTY);
  });

  it('throws InvalidImageError when the header cannot be read', async () => {
    await expect(readPrivateMetadata(Buffer.from('not an image'))).rejects.toBeInstanceOf(InvalidImageError);
  });
});
