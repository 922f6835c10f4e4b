import exifr from 'exifr';
import { InvalidImageError } from '@renditions/errors';
import { decoderReason, readMetadata } from './decode';

/**
 * What a photo's EXIF says about who took it, where and with what: read before stripping, shown only to the
 * uploader. Every field is null when the file does not record it (or records nonsense).
 */
export type PrivateMetadata = {
  cameraMake: string | null;
  cameraModel: string | null;
  lensMake: string | null;
  lensModel: string | null;
  /**
   * DateTimeOriginal as ISO 8601. EXIF records the camera's wall clock without a zone, so this is local time
   * ("2008-10-22T16:28:39"), with the offset appended only when OffsetTimeOriginal records it.
   */
  takenAt: string | null;
  /** WGS 84 degrees (south and west negative); altitude in metres, negative below sea level. */
  gps: { latitude: number; longitude: number; altitude: number | null } | null;
  /** The EXIF Orientation tag as recorded (1..8). */
  orientation: number | null;
  exposure: { iso: number | null; fNumber: number | null; exposureTime: number | null; focalLength: number | null } | null;
};

/** IFD0, the EXIF sub-IFD and GPS: everything else (thumbnails, maker notes, XMP, IPTC) is left unparsed. */
const EXIFR_OPTIONS = {
  tiff: true,
  exif: true,
  gps: true,
  ifd1: false,
  interop: false,
  makerNote: false,
  userComment: false,
  xmp: false,
  iptc: false,
  icc: false,
  jfif: false,
  ihdr: false,
  // Dates stay the raw "YYYY:MM:DD HH:MM:SS": revived, exifr would read them in this process's time zone.
  reviveValues: false,
  translateValues: false,
  mergeOutput: true,
} as const;

const EXIF_HEADER = 'Exif\0\0';
const EXIF_DATE = /^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const UTC_OFFSET = /^[+-]\d{2}:\d{2}$/;

type Tags = Record<string, unknown>;

/**
 * Reads the camera, lens, capture time, GPS position, orientation and exposure from a source's EXIF, whatever
 * container holds it (JPEG APP1, PNG eXIf, WebP EXIF chunk, AVIF Exif item, TIFF IFDs). libvips finds the block,
 * exifr parses it. Unreadable or malformed EXIF is not an error: what can be read is returned, the rest is null.
 * @throws {InvalidImageError} when the image header itself cannot be read
 * @example const { gps } = await readPrivateMetadata(bytes); // { latitude: 43.4674, longitude: 11.8851, altitude: null }
 */
export async function readPrivateMetadata(source: Buffer): Promise<PrivateMetadata> {
  const tags = await readExifTags(source);
  const latitude = finite(tags.latitude);
  const longitude = finite(tags.longitude);
  const exposure = {
    iso: positive(Array.isArray(tags.ISO) ? tags.ISO[0] : tags.ISO),
    fNumber: positive(tags.FNumber),
    exposureTime: positive(tags.ExposureTime),
    focalLength: positive(tags.FocalLength),
  };
  return {
    cameraMake: text(tags.Make),
    cameraModel: text(tags.Model),
    lensMake: text(tags.LensMake),
    lensModel: text(tags.LensModel),
    takenAt: isoDate(tags.DateTimeOriginal, tags.OffsetTimeOriginal),
    gps:
      latitude !== null && longitude !== null && Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180
        ? { latitude, longitude, altitude: altitude(tags.GPSAltitude, tags.GPSAltitudeRef) }
        : null,
    orientation: orientation(tags.Orientation),
    exposure: Object.values(exposure).some((value) => value !== null) ? exposure : null,
  };
}

async function readExifTags(source: Buffer): Promise<Tags> {
  let meta;
  try {
    meta = await readMetadata(source);
  } catch (error) {
    throw new InvalidImageError(`Expected a readable image header; ${decoderReason(error)}`, { cause: error });
  }
  // A TIFF's EXIF lives in the file's own IFDs; libvips hands out other formats' EXIF blocks.
  const block = meta.exif ? withoutExifHeader(meta.exif) : meta.format === 'tiff' ? source : undefined;
  if (!block) return {};
  const parsed: unknown = await exifr.parse(block, EXIFR_OPTIONS).catch(() => undefined);
  return typeof parsed === 'object' && parsed !== null ? (parsed as Tags) : {};
}

/** JPEG, WebP and AVIF blocks come with the APP1 "Exif\0\0" prefix; a PNG eXIf chunk is the bare TIFF structure. */
function withoutExifHeader(exif: Buffer): Buffer {
  return exif.toString('latin1', 0, EXIF_HEADER.length) === EXIF_HEADER ? exif.subarray(EXIF_HEADER.length) : exif;
}

function text(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  // EXIF ASCII fields are NUL-padded to a fixed length.
  const cleaned = value.replaceAll('\0', '').trim();
  return cleaned === '' ? null : cleaned;
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function positive(value: unknown): number | null {
  const number = finite(value);
  return number !== null && number > 0 ? number : null;
}

function isoDate(value: unknown, offset: unknown): string | null {
  const match = typeof value === 'string' ? EXIF_DATE.exec(value.trim()) : null;
  if (!match) return null;
  const [, year, month, day, hour, minute, second] = match;
  const local = `${year}-${month}-${day}T${hour}:${minute}:${second}`;
  // Cameras without a set clock write "0000:00:00 00:00:00" or impossible dates: not a date at all.
  if (Number.isNaN(Date.parse(`${local}Z`)) || year === '0000') return null;
  const zone = typeof offset === 'string' && UTC_OFFSET.test(offset.trim()) ? offset.trim() : '';
  return `${local}${zone}`;
}

/** GPSAltitudeRef 1 means below sea level; exifr leaves it as the raw BYTE array. */
function altitude(value: unknown, ref: unknown): number | null {
  const metres = finite(value);
  if (metres === null) return null;
  const below = (ref instanceof Uint8Array ? ref[0] : ref) === 1;
  return below ? -metres : metres;
}

function orientation(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 8 ? value : null;
}
