import sharp from 'sharp';
import { isCover, fitOf, type RenditionBase } from './base';
import { CpuScheduler } from './cpu-scheduler';
import { withRenditionEncoder } from './encoders';
import { renditionMime } from './plan';
import { renderAnimatedRendition } from './render-animated';
import type { EncodedImage, RenditionSpec } from './types';

export interface RenderOptions {
  /** Where the encodes queue for a core; by default a scheduler of their own, two at a time. */
  scheduler?: CpuScheduler;
}

/**
 * Renders the given renditions from an asset's decoded base (see decodeRenditionBase): every output is cut and
 * scaled from it, smallest first, JPEG/WebP ahead of AVIF on the scheduler. `onRendered` is awaited for each as soon as it is encoded, outside the scheduler, so storing one
 * output never holds a core. Outputs are exactly spec.width x spec.height (inside boxes are resized to those
 * numbers, cover boxes are the centred square of the whole image). Animated sources (GIF, WebP) give animated
 * WebP outputs, each rendered from its own decode of every frame, sized per frame; their JPEG and AVIF outputs
 * use the first frame. JPEG flattens alpha onto white; WebP and AVIF keep it.
 * @throws {InvalidImageError} when an animation cannot be decoded
 * @throws {RangeError} when a spec asks for a size the source cannot give (larger than the source or a wrong aspect)
 * @throws whatever `onRendered` throws; no new output starts after a failure, and the first error is rethrown
 *   once every output in flight has ended
 */
export async function renderRenditions(
  base: RenditionBase,
  specs: RenditionSpec[],
  onRendered: (spec: RenditionSpec, output: EncodedImage) => Promise<void>,
  options: RenderOptions = {},
): Promise<void> {
  for (const spec of specs) checkSpec(spec, base.source);
  const scheduler = options.scheduler ?? new CpuScheduler(2);
  let failure: { error: unknown } | undefined;
  const renderOne = async (spec: RenditionSpec) => {
    try {
      const work = spec.format === 'avif' ? 'avif-encode' : 'cheap-encode';
      const output = await scheduler.run(work, async () => (failure ? undefined : encode(base, spec)));
      if (output && !failure) await onRendered(spec, output);
    } catch (error) {
      failure ??= { error };
    }
  };
  // Smallest first: the first rendition is ready soonest.
  await Promise.all([...specs].sort((a, b) => a.width * a.height - b.width * b.height).map(renderOne));
  if (failure) throw failure.error;
}

function encode(base: RenditionBase, spec: RenditionSpec): Promise<EncodedImage> {
  return base.pages > 1 && spec.format === 'webp' ? renderAnimatedRendition(base.original, spec, fitOf(spec)) : encodeFromBase(base, spec);
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

async function encodeFromBase(base: RenditionBase, spec: RenditionSpec): Promise<EncodedImage> {
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
function centredSquare(base: RenditionBase): { left: number; top: number; width: number; height: number } {
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
