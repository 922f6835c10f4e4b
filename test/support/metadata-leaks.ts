import exifr from 'exifr';
import sharp from 'sharp';

/** Containers of EXIF, XMP and IPTC as they appear in the bytes of any format. */
const MARKERS = ['Exif\0\0', '<x:xmpmeta', 'http://ns.adobe.com/xap/1.0/', 'Photoshop 3.0'];

/** Tags that say who took a photo, with what, when or where: none may survive in a served byte. */
const CAMERA_TAGS = [
  'Make', 'Model', 'LensMake', 'LensModel', 'SerialNumber', 'BodySerialNumber', 'Artist', 'Copyright',
  'DateTimeOriginal', 'CreateDate', 'Software', 'GPSLatitude', 'GPSLongitude', 'GPSAltitude', 'latitude', 'longitude',
];

/** WebP chunks and PNG chunks that carry metadata. */
const METADATA_CHUNKS = { webp: ['EXIF', 'XMP '], png: ['eXIf', 'iTXt', 'zTXt', 'tEXt'] };

/**
 * Everything in a served body that still describes the upload: sharp's EXIF/XMP/IPTC/comments, exifr's parse
 * (GPS, camera tags), metadata chunks, byte markers, and `identifying` strings taken from the original (its
 * camera model, say). Empty when the body is clean.
 */
export async function metadataLeaks(body: Buffer, identifying: string[] = []): Promise<string[]> {
  const found: string[] = [];
  const meta = await sharp(body).metadata();
  if (meta.exif) found.push('sharp: exif');
  if (meta.xmp) found.push('sharp: xmp');
  if (meta.iptc) found.push('sharp: iptc');
  if (meta.comments?.length) found.push('sharp: comments');
  for (const marker of MARKERS) if (body.includes(marker, 0, 'latin1')) found.push(`bytes: ${JSON.stringify(marker)}`);
  for (const text of identifying) if (body.includes(text, 0, 'latin1')) found.push(`bytes: ${JSON.stringify(text)}`);
  for (const chunk of chunkNames(body)) {
    if (METADATA_CHUNKS.webp.includes(chunk) || METADATA_CHUNKS.png.includes(chunk)) found.push(`chunk: ${chunk}`);
  }
  // exifr reads JPEG, PNG, TIFF and HEIF; for the other formats it refuses with "Unknown file format".
  const parsed = await exifr
    .parse(body, { tiff: true, exif: true, gps: true, xmp: true, iptc: true, ifd1: true, interop: true, makerNote: true })
    .catch(() => undefined);
  const tags = CAMERA_TAGS.filter((tag) => parsed && tag in parsed);
  if (tags.length > 0) found.push(`exifr: ${tags.join(',')}`);
  if (await exifr.gps(body).catch(() => undefined)) found.push('exifr: gps');
  return found;
}

/** What a source says about its camera that would identify it in a served byte: its model and lens names. */
export async function identifyingStrings(source: Buffer): Promise<string[]> {
  const { exif } = await sharp(source).metadata();
  if (!exif) return [];
  const tiff = exif.toString('latin1', 0, 6) === 'Exif\0\0' ? exif.subarray(6) : exif;
  const tags = (await exifr.parse(tiff, { tiff: true, exif: true, gps: false }).catch(() => undefined)) ?? {};
  // The make is left out: "Apple" or "Canon" also name the vendor of a kept ICC profile.
  return [tags.Model, tags.LensModel].filter((value): value is string => typeof value === 'string' && value.trim().length >= 4);
}

/** Top-level chunk types of a WebP (RIFF) or PNG file; none for other formats. */
function chunkNames(body: Buffer): string[] {
  const names: string[] = [];
  if (body.toString('latin1', 0, 4) === 'RIFF' && body.toString('latin1', 8, 12) === 'WEBP') {
    for (let at = 12; at + 8 <= body.length; at += 8 + body.readUInt32LE(at + 4) + (body.readUInt32LE(at + 4) % 2)) {
      names.push(body.toString('latin1', at, at + 4));
    }
  } else if (body.readUInt32BE(0) === 0x89504e47) {
    for (let at = 8; at + 8 <= body.length; at += 12 + body.readUInt32BE(at)) names.push(body.toString('latin1', at + 4, at + 8));
  }
  return names;
}
