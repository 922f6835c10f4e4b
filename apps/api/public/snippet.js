// Best first: a browser takes the first <source> whose type it supports, and the <img> when none fits.
const SOURCE_TYPES = [
  ['avif', 'image/avif'],
  ['webp', 'image/webp'],
];

const escapeAttribute = (text) =>
  String(text).replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/**
 * A rendition belongs in a srcset only if it is the whole image at another resolution: the square crops (`s`, `b`)
 * of a non-square image would be picked for small slots and show a different picture. One pixel of rounding is
 * allowed per side.
 */
function sameShape(rendition, image) {
  return Math.abs(rendition.width * image.height - rendition.height * image.width) <= Math.max(image.width, image.height);
}

/** Renditions of one format as srcset candidates, narrowest first, one per width (small images repeat sizes). */
function candidates(image, format) {
  const byWidth = new Map();
  for (const rendition of image.renditions) {
    if (rendition.format === format && sameShape(rendition, image) && !byWidth.has(rendition.width)) {
      byWidth.set(rendition.width, rendition);
    }
  }
  return [...byWidth.values()].sort((a, b) => a.width - b.width);
}

const srcset = (renditions) => renditions.map((rendition) => `${rendition.url} ${rendition.width}w`).join(', ');

/**
 * The HTML to embed an image responsively: AVIF and WebP <source>s and a JPEG <img>, each with a srcset of every
 * rendition size, so the browser picks the smallest file that fills the slot in the best format it decodes.
 * `width`/`height` reserve the layout space before a byte arrives; `sizes` says the image fills its container up
 * to its largest rendition (edit it to the real layout). GIF and WebP uploads can be animated, and only their WebP
 * renditions keep the animation: they get no AVIF source, which every browser would prefer.
 */
export function pictureSnippet(image) {
  const jpegs = candidates(image, 'jpg');
  const largest = jpegs.at(-1);
  const sizes = `(max-width: ${largest.width}px) 100vw, ${largest.width}px`;
  const mayAnimate = image.mime === 'image/gif' || image.mime === 'image/webp';
  const sources = SOURCE_TYPES.filter(([format]) => !(mayAnimate && format === 'avif')).map(
    ([format, type]) => `  <source type="${type}" srcset="${escapeAttribute(srcset(candidates(image, format)))}" sizes="${sizes}">`,
  );
  const img =
    `  <img src="${escapeAttribute(largest.url)}" srcset="${escapeAttribute(srcset(jpegs))}" sizes="${sizes}"` +
    ` width="${image.width}" height="${image.height}" alt="${escapeAttribute(image.title ?? '')}" loading="lazy" decoding="async">`;
  return ['<picture>', ...sources, img, '</picture>'].join('\n');
}
