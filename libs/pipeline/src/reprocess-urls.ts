import { FORMAT_CLASS_ACCEPTS } from './negotiate-format';
import type { CachedCopy } from './public-urls';

/**
 * Every copy a CDN may hold of these renditions of one upload: `/i/<id>/<size>.<format>`, a JPEG's Imgur-style name
 * (`/i/<id><size>.jpg`), and the size's negotiated URL (`/i/<id>/<size>`) for every format class, since which format
 * a class was given depends on what was ready when it was cached.
 */
export function renditionCachedCopies(
  baseUrl: string,
  imageId: string,
  renditions: ReadonlyArray<{ size: string; format: string }>,
): CachedCopy[] {
  const urls = renditions.flatMap(({ size, format }) => [
    `${baseUrl}/i/${imageId}/${size}.${format}`,
    ...(format === 'jpg' ? [`${baseUrl}/i/${imageId}${size}.jpg`] : []),
  ]);
  const sizes = [...new Set(renditions.map(({ size }) => size))];
  const negotiated = sizes.flatMap((size) => FORMAT_CLASS_ACCEPTS.map((accept) => ({ url: `${baseUrl}/i/${imageId}/${size}`, accept })));
  return [...urls.map((url) => ({ url })), ...negotiated];
}
