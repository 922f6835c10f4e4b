import { ACCEPTED_FORMATS, RENDITION_FORMATS, RENDITION_SIZES } from '@renditions/imaging';

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

/**
 * Every URL a CDN may have cached for one upload: the original under each spelling of its extension (every
 * extension when the asset is gone and its own is unknown), and the 18 renditions.
 */
export function imagePublicUrls(baseUrl: string, imageId: string, ext?: string): string[] {
  const exts = ext ? [ext] : Object.values(STORED_EXT);
  const spellings = exts.flatMap((stored) => [stored, ...Object.keys(EXT_ALIASES).filter((alias) => EXT_ALIASES[alias] === stored)]);
  return [
    ...spellings.map((spelling) => `${baseUrl}/i/${imageId}.${spelling}`),
    ...RENDITION_SIZES.flatMap((size) => RENDITION_FORMATS.map((format) => `${baseUrl}/i/${imageId}/${size}.${format}`)),
  ];
}
