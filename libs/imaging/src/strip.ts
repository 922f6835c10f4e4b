import type { Metadata, Sharp } from 'sharp';
import { InvalidImageError } from '@renditions/errors';
import type { CpuScheduler } from './cpu-scheduler';
import { decoderReason, effectiveOrientation, frameCount, openImage, readHeader } from './decode';
import { stripJpegSegments } from './jpeg-strip';
import type { EncodedImage, ImageProbe, SourceFormat } from './types';

/** Re-encode settings for the metadata-free original: high enough that the original is not visibly degraded. */
export const STRIP_JPEG_OPTIONS = { quality: 92 } as const;
export const STRIP_WEBP_OPTIONS = { quality: 90 } as const;
/**
 * AVIF re-encodes are slow at camera sizes, and this also runs on the fly at the CDN before the strip stage is
 * done. Encode alone, 12 MP (formats/avif-orientation-6.avif): effort 0 1.3 s / 309 KB, effort 1 2.8 s /
 * 250 KB, effort 2 8.4 s / 230 KB (4:2:0, q60). Effort 1 is the compromise; 4:2:0 is what cameras produce.
 */
export const STRIP_AVIF_OPTIONS = { quality: 60, effort: 1, chromaSubsampling: '4:2:0' } as const;
/** sharp's TIFF default is lossy JPEG compression; deflate keeps the original's pixels. */
export const STRIP_TIFF_OPTIONS = { compression: 'deflate', predictor: 'horizontal' } as const;

/** Colourspaces kept as they are (with their ICC profile) when re-encoding JPEG/PNG/TIFF originals. */
const KEPT_SPACES = new Set(['srgb', 'b-w', 'cmyk', 'rgb16', 'grey16']);

/**
 * The original without any metadata (EXIF, GPS, XMP, IPTC, comments, thumbnails), auto-oriented, in the same
 * format as the upload, keeping its ICC profile so colours stay right. A JPEG that needs no rotation loses its
 * metadata segments byte-wise (lossless, ~1 ms); everything else is re-encoded by libvips at high quality,
 * animations (GIF, WebP) included.
 * The orientation comes from the bytes, not from `probe`, so a stale record cannot leak a rotated image.
 * @param probe the upload's probe (format and mime decide the output format)
 * @param options.scheduler where a re-encode waits for a core (the worker's; the CDN's on-the-fly strip has none)
 * @throws {InvalidImageError} when the source cannot be decoded
 */
export async function stripMetadata(
  source: Buffer,
  probe: Pick<ImageProbe, 'format' | 'orientation' | 'pages' | 'mime'>,
  options: { scheduler?: CpuScheduler } = {},
): Promise<EncodedImage> {
  const meta = await readHeader(source);
  if (probe.format === 'jpeg' && effectiveOrientation(meta) === 1) {
    const stripped = tryStripJpeg(source);
    if (stripped) return { data: stripped, mime: probe.mime, width: meta.width, height: meta.height };
  }
  return options.scheduler ? options.scheduler.run('strip', () => reencode(source, probe, meta)) : reencode(source, probe, meta);
}

function tryStripJpeg(source: Buffer): Buffer | undefined {
  try {
    return stripJpegSegments(source);
  } catch {
    // Segments libjpeg tolerates but our strict walker does not: the re-encode path normalises them.
    return undefined;
  }
}

async function reencode(
  source: Buffer,
  probe: Pick<ImageProbe, 'format' | 'mime'>,
  meta: Metadata,
): Promise<EncodedImage> {
  const animated = frameCount(meta) > 1;
  let pipeline = openImage(source, { animated });
  if (effectiveOrientation(meta) !== 1) pipeline = pipeline.rotate();
  // Without this sharp would convert to sRGB and drop the profile; with it, pixels stay in their own space.
  pipeline = pipeline.keepIccProfile();
  try {
    const { data, info } = await withOriginalEncoder(pipeline, probe.format, meta).toBuffer({ resolveWithObject: true });
    return { data, mime: probe.mime, width: info.width, height: info.pageHeight ?? info.height };
  } catch (error) {
    throw new InvalidImageError(`Expected a decodable ${probe.format} image; ${decoderReason(error)}`, { cause: error });
  }
}

function withOriginalEncoder(pipeline: Sharp, format: SourceFormat, meta: Metadata): Sharp {
  switch (format) {
    case 'jpeg':
      return inSpace(pipeline, narrowTo8Bit(keptSpace(meta))).jpeg(STRIP_JPEG_OPTIONS);
    case 'png':
      return inSpace(pipeline, keptSpace(meta) === 'cmyk' ? 'srgb' : keptSpace(meta)).png();
    case 'tiff':
      return inSpace(pipeline, keptSpace(meta)).tiff(STRIP_TIFF_OPTIONS);
    case 'webp':
      return pipeline.webp(STRIP_WEBP_OPTIONS);
    case 'gif':
      return pipeline.gif();
    case 'avif':
      return pipeline.avif(STRIP_AVIF_OPTIONS);
  }
}

/**
 * The kept ICC profile describes the source's own space: a greyscale, 16-bit or CMYK original must stay so, or
 * the profile would end up attached to pixels in another space (WebP, GIF and AVIF are RGB-only here).
 */
function keptSpace(meta: Metadata): string {
  return KEPT_SPACES.has(meta.space) ? meta.space : 'srgb';
}

function narrowTo8Bit(space: string): string {
  return space === 'rgb16' ? 'srgb' : space === 'grey16' ? 'b-w' : space;
}

function inSpace(pipeline: Sharp, space: string): Sharp {
  // sharp turns CMYK into sRGB at load unless the pipeline itself is CMYK, even with keepIccProfile().
  if (space === 'cmyk') return pipeline.pipelineColourspace('cmyk').toColourspace('cmyk');
  return pipeline.toColourspace(space);
}
