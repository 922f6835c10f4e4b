import sharp, { type Metadata, type Sharp, type SharpOptions } from 'sharp';
import { InvalidImageError } from '@renditions/errors';

/**
 * libvips' fail_on level for every decode. 'none' lets truncated JPEG/PNG data through (corpus bad/truncated.*);
 * 'truncated' and up reject it, and corrupt PNG zlib data too. 'warning' would also reject JPEGs that libjpeg
 * only warns about (tested: "Corrupt JPEG data: 2 extraneous bytes before marker"), which browsers display.
 * On the corpus 'truncated', 'error' and 'warning' accept and reject exactly the same files.
 */
export const DECODE_FAIL_ON = 'error' as const;

/** Formats whose frames we treat as an animation (TIFF pages and HEIF items are separate images, not frames). */
const ANIMATABLE_FORMATS = new Set<string>(['gif', 'webp']);

/** Opens a source with the library's decode policy (every decode of an uploaded file goes through here). */
export function openImage(input: string | Buffer, options: SharpOptions = {}): Sharp {
  return sharp(input, { failOn: DECODE_FAIL_ON, ...options });
}

/** Header-only read: no pixel is decoded, so it is safe before the pixel limit has been checked. */
export function readMetadata(input: string | Buffer): Promise<Metadata> {
  // Our own limit is applied by the caller with a precise error; sharp's would only say "exceeds pixel limit".
  return sharp(input, { limitInputPixels: false }).metadata();
}

/**
 * readMetadata for a file already accepted at upload, which the worker decodes.
 * @throws {InvalidImageError} when not even the header can be read
 */
export async function readHeader(source: Buffer): Promise<Metadata> {
  try {
    return await readMetadata(source);
  } catch (error) {
    throw new InvalidImageError(`Expected a readable image header; ${decoderReason(error)}`, { cause: error });
  }
}

/** Frames of an animation, 1 for still images (a multi-page TIFF is a still image: its first page is used). */
export function frameCount(meta: Metadata): number {
  return ANIMATABLE_FORMATS.has(meta.format) ? Math.max(1, meta.pages ?? 1) : 1;
}

/**
 * EXIF orientation 1..8 as it will be applied; 1 when absent, 0 or invalid. Animated images report 1: sharp
 * cannot turn a multi-frame image by 90 degrees, so we never orient them (EXIF on animations is rare anyway).
 * HEIF/AVIF rotations (irot/imir) are applied by libheif while decoding and never appear here.
 */
export function effectiveOrientation(meta: Metadata): number {
  if (frameCount(meta) > 1) return 1;
  const value = meta.orientation;
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 8 ? value : 1;
}

/** Size of one frame as displayed, after auto-orientation (orientations 5..8 swap the axes). */
export function displayedSize(meta: Metadata): { width: number; height: number } {
  const frameHeight = meta.pageHeight ?? meta.height;
  return effectiveOrientation(meta) >= 5
    ? { width: frameHeight, height: meta.width }
    : { width: meta.width, height: frameHeight };
}

/**
 * The first line of a libvips error, without the noise of its stacked context lines, and without the file path
 * libvips names when it reads from a file: the reason reaches clients, the server's paths must not.
 */
export function decoderReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split('\n').find((candidate) => candidate.trim() !== '')?.trim() ?? 'unknown decoder error';
  return line.replace(/(?:\/[^\s:]+)+:\s*/g, '').replace(/\/[^\s:]+/g, 'the file') || 'unknown decoder error';
}
