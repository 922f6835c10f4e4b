import { fileTypeFromBuffer } from 'file-type';
import type { SniffedType, SourceFormat } from './types';

/** file-type's own recommendation: every signature it knows is decided within the first 4100 bytes. */
export const SNIFF_BYTES = 4100;

/** Keyed by file-type's `ext`; anything not listed is refused, however the upload names itself. */
const ACCEPTED: Readonly<Record<string, SniffedType>> = {
  jpg: { format: 'jpeg', mime: 'image/jpeg', ext: 'jpg' },
  png: { format: 'png', mime: 'image/png', ext: 'png' },
  // An APNG is a valid PNG (decoders that ignore acTL show its default image), so refusing it would
  // turn away files every browser displays. It is handled as a still PNG.
  apng: { format: 'png', mime: 'image/png', ext: 'png' },
  gif: { format: 'gif', mime: 'image/gif', ext: 'gif' },
  webp: { format: 'webp', mime: 'image/webp', ext: 'webp' },
  avif: { format: 'avif', mime: 'image/avif', ext: 'avif' },
  tif: { format: 'tiff', mime: 'image/tiff', ext: 'tif' },
};

/** What the leading bytes look like, accepted or not: used to tell the uploader what arrived. */
export async function detectFileType(head: Uint8Array): Promise<{ ext: string; mime: string } | undefined> {
  if (head.length === 0) return undefined;
  return fileTypeFromBuffer(head.subarray(0, SNIFF_BYTES));
}

/**
 * Identifies an accepted image type from its leading bytes only: names and declared types are never trusted.
 * SVG, HTML, HEIC, text and any other format resolve to null.
 * @param head the first bytes of the file (at least {@link SNIFF_BYTES} when the file is that long)
 * @returns the sniffed type, or null when the bytes are not one of the accepted formats
 * @throws never for bad input bytes; only on internal failure of the sniffer
 */
export async function sniffImageType(head: Buffer): Promise<SniffedType | null> {
  const detected = await detectFileType(head);
  const accepted = detected ? ACCEPTED[detected.ext] : undefined;
  return accepted ? { ...accepted } : null;
}

/** Human names for error messages. */
export const FORMAT_NAMES: Readonly<Record<SourceFormat, string>> = {
  jpeg: 'JPEG',
  png: 'PNG',
  gif: 'GIF',
  webp: 'WebP',
  avif: 'AVIF',
  tiff: 'TIFF',
};
