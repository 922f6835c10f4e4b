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

/**
 * Signatures of the accepted formats, consulted only when file-type recognises nothing: file-type gives up on
 * a PNG whose first chunk is garbage (corpus bad/broken.png), yet such a file is a damaged PNG, which must be
 * reported as an invalid image (422), not as an unsupported type (415). The decoder then rejects it.
 */
const SIGNATURES: ReadonlyArray<{ ext: string; test: (head: Uint8Array) => boolean }> = [
  { ext: 'png', test: (h) => startsWith(h, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
  { ext: 'jpg', test: (h) => startsWith(h, [0xff, 0xd8, 0xff]) },
  { ext: 'gif', test: (h) => ascii(h, 0, 'GIF87a') || ascii(h, 0, 'GIF89a') },
  { ext: 'webp', test: (h) => ascii(h, 0, 'RIFF') && ascii(h, 8, 'WEBP') },
  { ext: 'tif', test: (h) => startsWith(h, [0x49, 0x49, 0x2a, 0x00]) || startsWith(h, [0x4d, 0x4d, 0x00, 0x2a]) },
  { ext: 'avif', test: (h) => ascii(h, 4, 'ftypavif') || ascii(h, 4, 'ftypavis') },
];

function startsWith(head: Uint8Array, bytes: number[]): boolean {
  return head.length >= bytes.length && bytes.every((byte, i) => head[i] === byte);
}

function ascii(head: Uint8Array, offset: number, text: string): boolean {
  return head.length >= offset + text.length && [...text].every((c, i) => head[offset + i] === c.charCodeAt(0));
}

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
  const ext = detected ? detected.ext : SIGNATURES.find((signature) => signature.test(head))?.ext;
  const accepted = ext === undefined ? undefined : ACCEPTED[ext];
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
