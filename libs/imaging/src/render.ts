import { InvalidImageError } from '@renditions/errors';
import sharp, { type Metadata } from 'sharp';
import { decoderReason, displayedSize, effectiveOrientation, frameCount, openImage, readMetadata } from './decode';
import { withRenditionEncoder } from './encoders';
import { renditionMime, SIZE_BOXES } from './plan';
import { runWithConcurrency } from './pool';
import { renderAnimatedRendition } from './render-animated';
import type { EncodedImage, Fit, RenditionFormat, RenditionSpec } from './types';

export interface RenderOptions {
  /** Outputs encoded at once. Default 2: one per core on the target machines; each encode is single-threaded. */
  concurrency?: number;
}

/** A decoded, oriented, sRGB 8-bit image kept in memory, from which every output is cut and scaled. */
interface RawBase {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  /** Base pixels per displayed source pixel, per axis. */
  scaleX: number;
  scaleY: number;
  source: { width: number; height: number };
}

/** Rough relative encode cost per pixel (BASELINE.md, encoding only): AVIF dwarfs the rest. */
const COST_PER_PIXEL: Readonly<Record<RenditionFormat, number>> = { avif: 30, jpg: 1.5, webp: 1 };

/**
 * Renders the given renditions of a source from a single decode: the source is decoded once (with JPEG/WebP
 * shrink-on-load), auto-oriented, converted to sRGB and scaled to the largest size any spec needs; every
 * output is then cut and scaled from that in-memory base. The most expensive outputs start first, a few run
 * at once, and `onRendered` is awaited for each as soon as it is encoded. Outputs are exactly spec.width x
 * spec.height (inside boxes are resized to those numbers, cover boxes are the centred square of the whole
 * image). Animated sources (GIF, WebP) give animated WebP outputs, each rendered from its own decode of every
 * frame, sized per frame; their JPEG and AVIF outputs use the first frame. JPEG flattens alpha onto white; WebP
 * and AVIF keep it.
 * @throws {InvalidImageError} when the source cannot be decoded
 * @throws {RangeError} when a spec asks for a size the source cannot give (larger than the source or a wrong aspect)
 * @throws whatever `onRendered` throws; no new output starts after a failure, and the first error is rethrown
 */
export async function renderRenditions(
  source: Buffer,
  specs: RenditionSpec[],
  onRendered: (spec: RenditionSpec, output: EncodedImage) => Promise<void>,
  options: RenderOptions = {},
): Promise<void> {
  if (specs.length === 0) return;
  const meta = await readHeader(source);
  const displayed = displayedSize(meta);
  for (const spec of specs) checkSpec(spec, displayed);
  const pages = frameCount(meta);
  const animated = (spec: RenditionSpec) => pages > 1 && spec.format === 'webp';
  const outputs: Output[] = specs
    .filter(animated)
    .map((spec) => ({ spec, frames: pages, encode: () => renderAnimatedRendition(source, spec, fitOf(spec)) }));
  const stills = specs.filter((spec) => !animated(spec));
  if (stills.length > 0) {
    const base = await decodeBase(source, meta, stills);
    outputs.push(...stills.map((spec) => ({ spec, frames: 1, encode: () => encodeFromBase(base, spec) })));
  }
  outputs.sort((a, b) => cost(b) - cost(a));
  await runWithConcurrency(
    outputs.map(({ spec, encode }) => async () => onRendered(spec, await encode())),
    options.concurrency ?? 2,
  );
}

interface Output {
  spec: RenditionSpec;
  frames: number;
  encode(): Promise<EncodedImage>;
}

function cost({ spec, frames }: Output): number {
  return spec.width * spec.height * frames * COST_PER_PIXEL[spec.format];
}

async function readHeader(source: Buffer): Promise<Metadata> {
  try {
    return await readMetadata(source);
  } catch (error) {
    throw new InvalidImageError(`Expected a readable image header; ${decoderReason(error)}`, { cause: error });
  }
}

function fitOf(spec: RenditionSpec): Fit {
  return SIZE_BOXES.find((box) => box.size === spec.size)?.fit ?? 'inside';
}

function isCover(spec: RenditionSpec): boolean {
  return fitOf(spec) === 'cover';
}

function checkSpec(spec: RenditionSpec, source: { width: number; height: number }): void {
  const problem = isCover(spec) ? coverProblem(spec, source) : insideProblem(spec, source);
  if (problem) {
    throw new RangeError(
      `Expected a ${spec.size} rendition ${problem} of the ${source.width}x${source.height} source; got ${spec.width}x${spec.height}`,
    );
  }
}

function coverProblem(spec: RenditionSpec, source: { width: number; height: number }): string | undefined {
  const ok = spec.width === spec.height && spec.width >= 1 && spec.width <= Math.min(source.width, source.height);
  return ok ? undefined : 'square no larger than the short side';
}

/**
 * The planner scales the long side to the box and rounds the short one (never below 1 px), so a spec may be off
 * the exact aspect ratio by up to a pixel on the short side, no more.
 */
function insideProblem(spec: RenditionSpec, source: { width: number; height: number }): string | undefined {
  const landscape = source.width >= source.height;
  const scale = landscape ? spec.width / source.width : spec.height / source.height;
  const expectedShort = Math.max(1, (landscape ? source.height : source.width) * scale);
  const short = landscape ? spec.height : spec.width;
  const ok = scale > 0 && scale <= 1 && short >= 1 && Math.abs(short - expectedShort) <= 1;
  return ok ? undefined : 'no larger than, and with the aspect ratio';
}

/**
 * Scale of the base relative to the displayed source: enough for the largest inside output and for the
 * cover squares (a very wide panorama's 1024 px base can be shorter than a 160 px square), never above 1.
 */
function baseScale(source: { width: number; height: number }, specs: RenditionSpec[]): number {
  const shortSide = Math.min(source.width, source.height);
  const needed = specs.map((spec) =>
    isCover(spec) ? spec.width / shortSide : Math.max(spec.width / source.width, spec.height / source.height),
  );
  return Math.min(1, Math.max(...needed));
}

async function decodeBase(source: Buffer, meta: Metadata, specs: RenditionSpec[]): Promise<RawBase> {
  const displayed = displayedSize(meta);
  // When an inside spec sets the scale, take its exact size, so that output is the base itself, unresampled.
  const scale = baseScale(displayed, specs);
  const largestInside = specs
    .filter((spec) => !isCover(spec))
    .sort((a, b) => b.width * b.height - a.width * a.height)[0];
  const size =
    largestInside && Math.max(largestInside.width / displayed.width, largestInside.height / displayed.height) >= scale
      ? { width: largestInside.width, height: largestInside.height }
      : {
          width: Math.max(1, Math.round(displayed.width * scale)),
          height: Math.max(1, Math.round(displayed.height * scale)),
        };
  try {
    // Only the first frame of an animation is decoded; orientation is applied exactly when the probe said so.
    let pipeline = openImage(source);
    if (effectiveOrientation(meta) !== 1) pipeline = pipeline.rotate();
    if (size.width !== displayed.width || size.height !== displayed.height) {
      // fit 'fill' to hit the exact size; shrink-on-load still applies (JPEG DCT scaling, WebP scale; the
      // latter bleeds a little colour from fully transparent pixels: mean 0.4/255 once flattened, invisible).
      pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', fastShrinkOnLoad: true });
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
    };
  } catch (error) {
    throw new InvalidImageError(`Expected a decodable image; ${decoderReason(error)}`, { cause: error });
  }
}

async function encodeFromBase(base: RawBase, spec: RenditionSpec): Promise<EncodedImage> {
  let pipeline = sharp(base.data, { raw: { width: base.width, height: base.height, channels: base.channels } });
  let region = { width: base.width, height: base.height };
  if (isCover(spec)) {
    const crop = centredSquare(base);
    pipeline = pipeline.extract(crop);
    region = crop;
  }
  if (region.width !== spec.width || region.height !== spec.height) {
    pipeline = pipeline.resize(spec.width, spec.height, { fit: 'fill' });
  }
  const { data, info } = await withRenditionEncoder(pipeline, spec.format).toBuffer({ resolveWithObject: true });
  if (info.width !== spec.width || info.height !== spec.height) {
    throw new Error(`encoded ${spec.size}.${spec.format} is ${info.width}x${info.height}; expected ${spec.width}x${spec.height}`);
  }
  return { data, mime: renditionMime(spec.format), width: info.width, height: info.height };
}

/** The centred square of the whole displayed image, mapped into base pixels. */
function centredSquare(base: RawBase): { left: number; top: number; width: number; height: number } {
  const side = Math.min(base.source.width, base.source.height);
  const width = clamp(Math.round(side * base.scaleX), 1, base.width);
  const height = clamp(Math.round(side * base.scaleY), 1, base.height);
  return {
    left: clamp(Math.round(((base.source.width - side) / 2) * base.scaleX), 0, base.width - width),
    top: clamp(Math.round(((base.source.height - side) / 2) * base.scaleY), 0, base.height - height),
    width,
    height,
  };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
