import { ACCEPTED_FORMATS, RENDITION_FORMATS, RENDITION_SIZES, type RenditionFormat, type RenditionSize } from '@renditions/imaging';
import { FORMAT_CLASS_ACCEPTS, negotiateFormats } from './negotiate-format';

/** Other spellings an original is served under, each mapped to the stored extension. */
export const EXT_ALIASES: Record<string, string> = { jpeg: 'jpg', tiff: 'tif' };

/** The extension each accepted format is stored and served under. */
const STORED_EXT: Record<(typeof ACCEPTED_FORMATS)[number], string> = {
  jpeg: 'jpg',
  png: 'png',
  gif: 'gif',
  webp: 'webp',
  avif: 'avif',
  tiff: 'tif',
};

/** A copy a CDN may hold: a URL, and for a negotiated URL the Accept header of the format class it was cached for. */
export interface CachedCopy {
  url: string;
  accept?: string;
}

/** The original's URL under each spelling of its extension (of every extension when it is unknown). */
function originalUrls(baseUrl: string, imageId: string, ext?: string): string[] {
  const exts = ext ? [ext] : Object.values(STORED_EXT);
  const spellings = exts.flatMap((stored) => [stored, ...Object.keys(EXT_ALIASES).filter((alias) => EXT_ALIASES[alias] === stored)]);
  return spellings.map((spelling) => `${baseUrl}/i/${imageId}.${spelling}`);
}

/** A rendition's own URL and, for a JPEG, its Imgur-style name (`/i/<id>m.jpg`). */
function renditionUrls(baseUrl: string, imageId: string, size: string, format: string): string[] {
  return [`${baseUrl}/i/${imageId}/${size}.${format}`, ...(format === 'jpg' ? [`${baseUrl}/i/${imageId}${size}.jpg`] : [])];
}

/** A size's negotiated URL (`/i/<id>/<size>`), once per format class it may be cached for. */
function negotiatedCopies(baseUrl: string, imageId: string, size: string, accepts: readonly string[] = FORMAT_CLASS_ACCEPTS): CachedCopy[] {
  return accepts.map((accept) => ({ url: `${baseUrl}/i/${imageId}/${size}`, accept }));
}

/**
 * Every copy a CDN may have cached for one upload: the original under each spelling of its extension (every
 * extension when the asset is gone and its own is unknown), the 18 renditions, their Imgur-style names
 * (`/i/<id>m.jpg`), and each size's negotiated URL (`/i/<id>/m`) once per format class.
 */
export function imageCachedCopies(baseUrl: string, imageId: string, ext?: string): CachedCopy[] {
  const urls = [
    ...originalUrls(baseUrl, imageId, ext),
    ...RENDITION_SIZES.flatMap((size) => RENDITION_FORMATS.flatMap((format) => renditionUrls(baseUrl, imageId, size, format))),
  ];
  return [...urls.map((url) => ({ url })), ...RENDITION_SIZES.flatMap((size) => negotiatedCopies(baseUrl, imageId, size))];
}

/** The copies of the original's URLs, under each spelling of its extension. */
export function originalCachedCopies(baseUrl: string, imageId: string, ext: string): CachedCopy[] {
  return originalUrls(baseUrl, imageId, ext).map((url) => ({ url }));
}

/**
 * The copies of every URL that answers with one rendition once it is ready: its own, Imgur's name for a JPEG
 * (`/i/<id>m.jpg`), and the negotiated `/i/<id>/<size>` of each format class that takes the format (until then
 * that class's copy held a stand-in).
 */
export function renditionCachedCopies(baseUrl: string, imageId: string, size: RenditionSize, format: RenditionFormat): CachedCopy[] {
  const accepts = FORMAT_CLASS_ACCEPTS.filter((accept) => negotiateFormats(accept).includes(format));
  return [...renditionUrls(baseUrl, imageId, size, format).map((url) => ({ url })), ...negotiatedCopies(baseUrl, imageId, size, accepts)];
}

/**
 * Every copy a CDN may hold of re-rendered renditions of one upload (`npm run reprocess`): their own URLs and
 * Imgur-style names, and each size's negotiated URL for every format class, since which format a class was given
 * depends on what was ready when it was cached.
 */
export function reRenderedCachedCopies(
  baseUrl: string,
  imageId: string,
  renditions: ReadonlyArray<{ size: string; format: string }>,
): CachedCopy[] {
  const urls = renditions.flatMap(({ size, format }) => renditionUrls(baseUrl, imageId, size, format));
  const sizes = [...new Set(renditions.map(({ size }) => size))];
  return [...urls.map((url) => ({ url })), ...sizes.flatMap((size) => negotiatedCopies(baseUrl, imageId, size))];
}
