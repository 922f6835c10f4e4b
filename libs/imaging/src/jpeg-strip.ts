import { jpegSegments, type JpegSegment } from './jpeg-segments';

const JFIF = Buffer.from('JFIF\0', 'latin1');
const ICC_PROFILE = Buffer.from('ICC_PROFILE\0', 'latin1');
const ADOBE = Buffer.from('Adobe', 'latin1');
const COM = 0xfe;
/** JFIF APP0 up to and including the thumbnail dimensions: identifier(5) version(2) units(1) density(4) thumb(2). */
const JFIF_HEADER_BYTES = 14;

/**
 * Removes every metadata segment from a JPEG without touching the compressed pixels: lossless and fast.
 *
 * Kept: APP0 JFIF (its optional thumbnail dropped), APP2 ICC_PROFILE (colour stays right), APP14 Adobe (tells
 * the decoder whether 3/4 components are RGB/YCbCr/CMYK/YCCK), and every non-APP segment (DQT, DHT, DAC, DRI,
 * SOFn, SOS + scan data, RSTn, ...). Dropped: all other APPn (EXIF, XMP, extended XMP, MPF, FlashPix, JFXX
 * thumbnails, Photoshop/IPTC, maker data), COM, and anything after the first EOI (MPF secondary images such
 * as gain maps, which carry their own metadata). Because EXIF goes, so does the Orientation tag: only use this
 * on images whose orientation is 1. Idempotent.
 * @throws {Error} when the JPEG's segment structure is malformed (bad length, missing marker, no EOI)
 */
export function stripJpegSegments(buf: Buffer): Buffer {
  const parts: Buffer[] = [buf.subarray(0, 2)];
  for (const segment of jpegSegments(buf)) {
    const kept = keepSegment(buf, segment);
    if (kept) parts.push(kept);
  }
  return Buffer.concat(parts);
}

function keepSegment(buf: Buffer, segment: JpegSegment): Buffer | undefined {
  const { marker } = segment;
  const payload = buf.subarray(segment.payloadStart, segment.payloadEnd);
  if (marker === 0xe0) return payload.subarray(0, JFIF.length).equals(JFIF) ? jfifWithoutThumbnail(payload) : undefined;
  if (marker === 0xe2) return startsWith(payload, ICC_PROFILE) ? buf.subarray(segment.start, segment.end) : undefined;
  if (marker === 0xee) return startsWith(payload, ADOBE) ? buf.subarray(segment.start, segment.end) : undefined;
  if ((marker >= 0xe0 && marker <= 0xef) || marker === COM) return undefined;
  return buf.subarray(segment.start, segment.end);
}

function startsWith(payload: Buffer, prefix: Buffer): boolean {
  return payload.length >= prefix.length && payload.subarray(0, prefix.length).equals(prefix);
}

/** A JFIF APP0 may embed an uncompressed thumbnail, which can show what a crop removed. */
function jfifWithoutThumbnail(payload: Buffer): Buffer | undefined {
  if (payload.length < JFIF_HEADER_BYTES) return undefined; // malformed JFIF: the decoder does not need it
  const segment = Buffer.alloc(4 + JFIF_HEADER_BYTES);
  segment.writeUInt16BE(0xffe0, 0);
  segment.writeUInt16BE(2 + JFIF_HEADER_BYTES, 2);
  payload.copy(segment, 4, 0, JFIF_HEADER_BYTES);
  segment[4 + 12] = 0; // Xthumbnail
  segment[4 + 13] = 0; // Ythumbnail
  return segment;
}
