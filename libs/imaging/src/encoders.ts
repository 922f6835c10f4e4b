import type { AvifOptions, JpegOptions, Sharp, WebpOptions } from 'sharp';
import type { RenditionFormat } from './types';

/**
 * Rendition encoder settings, chosen by `npm run bench:quality` (scripts/bench/quality.ts; table in the README):
 * 6 corpus photos at h, l, m and t, butteraugli distance of each output to the resized base it was encoded
 * from, target = the JPEG q82's distance at each size (WebP and AVIF within 5%), bytes against that JPEG, encode
 * CPU against the settings before issue 9. Figures below are that run's medians over the photos, for the
 * h+l+m+t set unless a size is named.
 */

/**
 * Unchanged. q80 is 0.92x the JPEG's distance at h (0.74-0.94x at l, m, t) for 0.81x its bytes. q78 qualifies at
 * h (1.04x) but not at l (1.18x), q75 at neither (1.10x, 1.26x), so no lower single quality holds for every size.
 * Effort 6 saves 4% of these bytes (0.77x) for 2.1x the time; sharp_yuv (smartSubsample) costs bytes (0.86x) and
 * 1.8x the time. The goal, 0.6x the JPEG's bytes at equal distance, is not reachable with libwebp here.
 */
export const WEBP_OPTIONS = { quality: 80, effort: 4 } as const satisfies WebpOptions;

/**
 * Effort 0 (libaom cpu-used 9), q70, 4:2:0. Before (effort 2, q50) the AVIF was 0.38x the JPEG's bytes at h but
 * 1.89x its distance (1.27-1.67x at l, m, t): visibly worse than the fallback. At the JPEG's distance:
 * - effort 0 q70: 1.05x the distance at h, at the tolerance (0.97x l, 0.82x m, 0.73x t), 0.88x the JPEG's
 *   bytes, encode CPU 0.24x effort 2 q50's (at h a median 35 ms against 153 ms, below the JPEG's 58 ms);
 * - effort 1 q73: 0.86x the bytes, 0.75x the time; effort 2 q73: 0.84x the bytes, 1.22x the time;
 * - effort 3 q64: 0.70x the bytes, 2.0x the time; effort 4 q60: 0.61x the bytes, 8.1x the time.
 * Effort 0 is within 5% of the fewest bytes at a bearable time and 3-5x cheaper than efforts 1-2, so it is the
 * setting; the issue's 0.5x goal is not met by any effort this side of 8x the encode time. 4:4:4 chroma costs
 * bytes at equal distance (effort 2 q70: 0.99x the JPEG's). The AVIF is 2.2x the bytes it was, about WebP's
 * (1.06x), because it now looks as good as the other two. Quality 67 would do at m and t (0.9% fewer bytes):
 * not worth a per-size setting.
 */
export const AVIF_OPTIONS = { quality: 70, effort: 0, chromaSubsampling: '4:2:0' } as const satisfies AvifOptions;

/**
 * q82 is the quality target the other two are held to. mozjpeg (trellis quantisation): 16% fewer bytes than plain
 * libjpeg at q82 on the 1024 px rendition (129 KB vs 153 KB). Its progressive scan search (optimiseScans) is off: it
 * changes only how the coefficients are split into scans, so the decoded pixels are identical, and over 6 corpus
 * photos it saved 1.0% / 0.8% / 1.3% / 3.2% of the bytes at h / l / m / t for 1.45x / 1.39x / 1.41x / 1.32x the
 * encode time. 4:4:4 chroma at q82 is 1.38x the bytes for 0.95x the distance at h; lower qualities miss the target
 * (q80: 1.02-1.10x the distance at h, l and t).
 */
export const JPEG_OPTIONS = { quality: 82, mozjpeg: true, optimiseScans: false } as const satisfies JpegOptions;

/** JPEG has no alpha: transparent pixels become white, as on a typical page background. */
export const JPEG_BACKGROUND = '#ffffff';

/**
 * Adds the rendition encoder for one format. Metadata: sharp writes none unless asked (no withMetadata or
 * keepExif anywhere in this lib), and the pipeline has already converted pixels to sRGB without a profile.
 */
export function withRenditionEncoder(pipeline: Sharp, format: RenditionFormat): Sharp {
  switch (format) {
    case 'webp':
      return pipeline.webp(WEBP_OPTIONS);
    case 'avif':
      return pipeline.avif(AVIF_OPTIONS);
    case 'jpg':
      return pipeline.flatten({ background: JPEG_BACKGROUND }).jpeg(JPEG_OPTIONS);
  }
}
