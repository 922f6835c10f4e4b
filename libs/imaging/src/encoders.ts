import type { AvifOptions, JpegOptions, Sharp, WebpOptions } from 'sharp';
import type { RenditionFormat } from './types';

/**
 * Rendition encoder settings. Chosen against BASELINE.md (12 MP source, 2 cores): AVIF is ~93% of the bill,
 * so its effort is what moves throughput.
 */

/** sharp's default effort. Measured on the 12 MP photo's 1024 px rendition: effort 6 saves 4% bytes for 3.2x the time. */
export const WEBP_OPTIONS = { quality: 80, effort: 4 } as const satisfies WebpOptions;

/**
 * Effort 2 with 4:2:0 chroma: 0.77 s for the 12 MP photo's 1024 px rendition against 5.7 s for sharp's default
 * (effort 4, 4:4:4), with fewer bytes (BASELINE: 62 KB vs 72 KB); 4:2:0 is what the JPEG does anyway.
 */
export const AVIF_OPTIONS = { quality: 50, effort: 2, chromaSubsampling: '4:2:0' } as const satisfies AvifOptions;

/**
 * mozjpeg (trellis quantisation, optimised progressive scans): 16% fewer bytes than plain libjpeg at q82 on the
 * 1024 px rendition (129 KB vs 153 KB) but 11x the encode time (184 ms vs 16 ms). Kept because the JPEG is the
 * fallback most old clients download, and even so it costs a quarter of one AVIF encode.
 */
export const JPEG_OPTIONS = { quality: 82, mozjpeg: true } as const satisfies JpegOptions;

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
