import exifr from 'exifr';
import sharp from 'sharp';

/** Byte patterns of EXIF, XMP, IPTC and common comment containers, whatever the file format. */
const LEAK_PATTERNS = ['Exif\0\0', '<x:xmpmeta', 'http://ns.adobe.com/xap', 'Photoshop 3.0', 'GPSLatitude'];

/** Tags that describe a TIFF's own pixel layout: exifr lists them for any TIFF, they identify nobody. */
const TIFF_STRUCTURE = new Set([
  'ImageWidth', 'ImageHeight', 'BitsPerSample', 'Compression', 'PhotometricInterpretation', 'StripOffsets',
  'Orientation', 'SamplesPerPixel', 'RowsPerStrip', 'StripByteCounts', 'XResolution', 'YResolution',
  'PlanarConfiguration', 'ResolutionUnit', 'Predictor', 'SampleFormat', 'ExtraSamples', 'TileWidth',
  'TileLength', 'TileOffsets', 'TileByteCounts', 'SubfileType', 'NewSubfileType', 'FillOrder',
]);

/**
 * Everything a metadata leak check can see: sharp's view (EXIF/XMP/IPTC blocks and orientation), exifr's
 * parse of EXIF/GPS/XMP/IPTC (where it reads the format), and raw byte patterns.
 */
export async function findMetadata(data: Buffer): Promise<string[]> {
  const found: string[] = [];
  const meta = await sharp(data).metadata();
  if (meta.exif) found.push('sharp: exif');
  if (meta.xmp) found.push('sharp: xmp');
  if (meta.iptc) found.push('sharp: iptc');
  if (meta.comments?.length) found.push('sharp: comments');
  if (meta.orientation !== undefined && meta.orientation !== 1) found.push(`sharp: orientation ${meta.orientation}`);
  for (const pattern of LEAK_PATTERNS) if (data.includes(pattern, 0, 'latin1')) found.push(`bytes: ${JSON.stringify(pattern)}`);
  if (meta.format === 'jpeg' || meta.format === 'png' || meta.format === 'tiff' || meta.format === 'heif') {
    const parsed = await exifr.parse(data, {
      tiff: true, exif: true, gps: true, interop: true, ifd1: true, xmp: true, iptc: true,
      icc: false, jfif: false, ihdr: false, makerNote: true, userComment: true,
    });
    const keys = Object.keys(parsed ?? {}).filter((key) => !(meta.format === 'tiff' && TIFF_STRUCTURE.has(key)));
    if (keys.length > 0) found.push(`exifr: ${keys.slice(0, 5).join(',')}`);
    if (await exifr.gps(data).catch(() => undefined)) found.push('exifr: gps');
  }
  return found;
}
