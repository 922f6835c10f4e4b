export const RENDITION_SIZES = ['s', 'b', 't', 'm', 'l', 'h'] as const;
export const RENDITION_FORMATS = ['webp', 'avif', 'jpg'] as const;
export const ACCEPTED_FORMATS = ['jpeg', 'png', 'gif', 'webp', 'avif', 'tiff'] as const;

export type RenditionSize = (typeof RENDITION_SIZES)[number];
export type RenditionFormat = (typeof RENDITION_FORMATS)[number];
export type SourceFormat = (typeof ACCEPTED_FORMATS)[number];

export type Fit = 'cover' | 'inside';

export interface SizeBox {
  size: RenditionSize;
  box: number;
  fit: Fit;
}

/** One of the 18 outputs, with the exact pixel size it will have. */
export interface RenditionSpec {
  size: RenditionSize;
  format: RenditionFormat;
  width: number;
  height: number;
}

export interface SniffedType {
  format: SourceFormat;
  mime: string;
  /** Extension used in the original's public URL: jpg, png, gif, webp, avif, tif. */
  ext: string;
}

/** What upload validation learns about a source before anything is stored. */
export interface ImageProbe extends SniffedType {
  /** Displayed (auto-oriented) size. */
  width: number;
  height: number;
  /** EXIF orientation 1..8 (1 when absent or invalid). */
  orientation: number;
  /** Frames (1 for still images). */
  pages: number;
}

export interface EncodedImage {
  data: Buffer;
  mime: string;
  width: number;
  height: number;
}
