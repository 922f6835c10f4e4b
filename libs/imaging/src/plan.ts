import { RENDITION_FORMATS, type RenditionFormat, type RenditionSpec, type SizeBox } from './types';

/** The contract's fixed sizes, after Imgur's thumbnail suffixes. Order: smallest first. */
export const SIZE_BOXES: readonly SizeBox[] = [
  { size: 's', box: 90, fit: 'cover' },
  { size: 'b', box: 160, fit: 'cover' },
  { size: 't', box: 160, fit: 'inside' },
  { size: 'm', box: 320, fit: 'inside' },
  { size: 'l', box: 640, fit: 'inside' },
  { size: 'h', box: 1024, fit: 'inside' },
];

const MIME: Readonly<Record<RenditionFormat, string>> = {
  webp: 'image/webp',
  avif: 'image/avif',
  jpg: 'image/jpeg',
};

/**
 * Exact output size of one box for a displayed width x height, never enlarging.
 * - inside: libvips' rounding for sharp's `resize(box, box, { fit: 'inside', withoutEnlargement: true })` on an
 *   input without shrink-on-load: one scale for both axes, each axis rounded half up, never below 1.
 * - cover: the largest centred square up to the box (sharp alone would give a non-square box-wide strip for
 *   a source shorter than the box).
 * The renderer resizes to exactly these numbers, so they are what is served (a JPEG's shrink-on-load would
 * otherwise move an axis by a pixel now and then).
 * @throws {RangeError} when width or height is not a positive integer
 */
export function boxSize(width: number, height: number, { box, fit }: Pick<SizeBox, 'box' | 'fit'>) {
  if (!isPositiveInteger(width) || !isPositiveInteger(height)) {
    throw new RangeError(`Expected positive integer dimensions; got ${width}x${height}`);
  }
  if (fit === 'cover') {
    const side = Math.min(box, width, height);
    return { width: side, height: side };
  }
  if (width <= box && height <= box) return { width, height };
  const shrink = Math.max(width / box, height / box);
  return { width: roundAxis(width / shrink), height: roundAxis(height / shrink) };
}

/**
 * The 18 renditions (6 sizes x webp, avif, jpg) of an image with this displayed size, with the exact pixel
 * size each will have. Pure: used at upload time so clients can reserve layout space.
 * @throws {RangeError} when width or height is not a positive integer
 */
export function planRenditions(width: number, height: number): RenditionSpec[] {
  return SIZE_BOXES.flatMap((box) => {
    const size = boxSize(width, height, box);
    return RENDITION_FORMATS.map((format) => ({ size: box.size, format, ...size }));
  });
}

/**
 * Content-Type of a rendition format.
 * @throws {RangeError} for a format that is not one of webp, avif, jpg
 */
export function renditionMime(format: RenditionFormat): string {
  const mime = MIME[format];
  if (!mime) throw new RangeError(`Expected a rendition format (${RENDITION_FORMATS.join(', ')}); got ${String(format)}`);
  return mime;
}

/** libvips rounds output sizes half up (VIPS_ROUND), not half to even; an axis never collapses to 0. */
function roundAxis(value: number): number {
  return Math.max(1, Math.floor(value + 0.5));
}

function isPositiveInteger(value: number): boolean {
  return Number.isInteger(value) && value > 0;
}
