import { InvalidImageError } from '@renditions/errors';
import type { Metadata } from 'sharp';
import { decoderReason, displayedSize, effectiveOrientation, frameCount, openImage, readHeader } from './decode';
import { SIZE_BOXES, planRenditions } from './plan';
import type { Fit, RenditionSpec } from './types';

/**
 * An asset's pixels decoded once: auto-oriented, sRGB, 8-bit, scaled to the largest size any of its 18
 * renditions needs. Every rendition, the pHash and the ThumbHash are cut and scaled from it, so an asset is
 * decoded once however many outputs it has (animated WebP outputs aside: they need every frame).
 */
export interface RenditionBase {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  /** Base pixels per displayed source pixel, per axis. */
  scaleX: number;
  scaleY: number;
  /** The displayed (auto-oriented) size of one frame of the source. */
  source: { width: number; height: number };
  /** Frames of the source: an animation's WebP renditions are rendered from `original`, frame by frame. */
  pages: number;
  original: Buffer;
}

export function fitOf(spec: Pick<RenditionSpec, 'size'>): Fit {
  return SIZE_BOXES.find((box) => box.size === spec.size)?.fit ?? 'inside';
}

export function isCover(spec: Pick<RenditionSpec, 'size'>): boolean {
  return fitOf(spec) === 'cover';
}

/**
 * Decodes the base of every rendition the source can have (see {@link RenditionBase}). JPEG and WebP shrink on
 * load (libjpeg's DCT scaling), so a 12 MP JPEG is never decoded at full size. When the largest inside
 * rendition sets the scale, the base is exactly its size, so that output is the base itself, unresampled.
 * @throws {InvalidImageError} when the source cannot be decoded
 */
export async function decodeRenditionBase(original: Buffer): Promise<RenditionBase> {
  const meta = await readHeader(original);
  const displayed = displayedSize(meta);
  const specs = planRenditions(displayed.width, displayed.height);
  const size = baseSize(displayed, specs);
  try {
    // Only the first frame of an animation is decoded; orientation is applied exactly when the header says so.
    let pipeline = openImage(original);
    if (effectiveOrientation(meta) !== 1) pipeline = pipeline.rotate();
    if (size.width !== displayed.width || size.height !== displayed.height) {
      pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', fastShrinkOnLoad: exactShrinkOnLoad(meta) });
    }
    // sRGB conversion happens here, once: CMYK via its profile, embedded profiles (Display P3, Adobe RGB)
    // to sRGB, greyscale widened to RGB, 16-bit narrowed to 8.
    const { data, info } = await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.width !== size.width || info.height !== size.height) {
      throw new Error(`decoded base is ${info.width}x${info.height}; expected ${size.width}x${size.height}`);
    }
    return {
      data,
      width: info.width,
      height: info.height,
      channels: info.channels,
      scaleX: info.width / displayed.width,
      scaleY: info.height / displayed.height,
      source: displayed,
      pages: frameCount(meta),
      original,
    };
  } catch (error) {
    throw new InvalidImageError(`Expected a decodable image; ${decoderReason(error)}`, { cause: error });
  }
}

/**
 * libwebp's scaled decode blends the colour of fully transparent pixels into their neighbours: invisible in a
 * rendition (mean 0.4/255 once flattened) but it moved a WebP's pHash 6 bits from its PNG copy's, so a WebP
 * with alpha is decoded whole. JPEG's DCT scaling is exact enough for both.
 */
function exactShrinkOnLoad(meta: Metadata): boolean {
  return !(meta.format === 'webp' && meta.hasAlpha);
}

/**
 * Enough for the largest inside output and for the cover squares (a very wide panorama's 1024 px base can be
 * shorter than a 160 px square), never above the source.
 */
function baseSize(displayed: { width: number; height: number }, specs: RenditionSpec[]): { width: number; height: number } {
  const shortSide = Math.min(displayed.width, displayed.height);
  const scale = Math.min(
    1,
    Math.max(
      ...specs.map((spec) =>
        isCover(spec) ? spec.width / shortSide : Math.max(spec.width / displayed.width, spec.height / displayed.height),
      ),
    ),
  );
  const largestInside = specs.filter((spec) => !isCover(spec)).sort((a, b) => b.width * b.height - a.width * a.height)[0];
  if (largestInside && Math.max(largestInside.width / displayed.width, largestInside.height / displayed.height) >= scale) {
    return { width: largestInside.width, height: largestInside.height };
  }
  return { width: Math.max(1, Math.round(displayed.width * scale)), height: Math.max(1, Math.round(displayed.height * scale)) };
}
