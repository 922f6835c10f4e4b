import type { RenditionFormat } from '@renditions/imaging';

/** Formats worth naming in Accept, best first: each is smaller than the next at the same quality. */
const NEGOTIABLE: ReadonlyArray<{ format: RenditionFormat; mime: string }> = [
  { format: 'avif', mime: 'image/avif' },
  { format: 'webp', mime: 'image/webp' },
];
/** What a client that names neither gets: every image client decodes it. */
const FALLBACK: RenditionFormat = 'jpg';

/**
 * One Accept header per answer negotiateFormats can give for a format class: what a CDN sends upstream after
 * sorting clients into classes (deploy/nginx/cdn.conf maps Accept to these very headers and keys its cache by them),
 * and what a purge sends to reach each cached copy of a negotiated URL.
 */
export const FORMAT_CLASS_ACCEPTS = ['image/avif', 'image/webp', '*/*'] as const;

/** RFC 9110 §12.4.2 qvalue: 0 to 1 with at most three decimals. */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** Each media range of an Accept header with its weight; ranges with a malformed weight are dropped. */
function mediaRanges(accept: string): Array<{ range: string; q: number }> {
  return accept.split(',').flatMap((part) => {
    const [range = '', ...parameters] = part.split(';').map((piece) => piece.trim());
    let q = 1;
    for (const parameter of parameters) {
      const [name = '', value = ''] = parameter.split('=').map((piece) => piece.trim());
      if (name.toLowerCase() !== 'q') continue;
      if (!QVALUE.test(value)) return [];
      q = Number(value);
    }
    return range ? [{ range: range.toLowerCase(), q }] : [];
  });
}

/**
 * The rendition formats a client takes for `GET /i/:id/:size`, best first: AVIF if Accept names `image/avif`, WebP
 * if it names `image/webp`, and JPEG always, last. Only a format named outright counts: a wildcard (`image/*`, or
 * any type) says nothing about AVIF, and a client that sends only wildcards may well not decode it. A format named
 * with `q=0` is refused, even if named again elsewhere in the header. The order is ours, not the client's weights: at the same quality AVIF is
 * smaller than WebP, which is smaller than JPEG.
 * @example negotiateFormats('image/avif,image/webp,image/apng,image/svg+xml,image/*,*\/*;q=0.8') // ['avif', 'webp', 'jpg']
 * @example negotiateFormats('image/webp,image/avif;q=0') // ['webp', 'jpg']
 * @example negotiateFormats(undefined) // ['jpg']
 */
export function negotiateFormats(accept: string | undefined): RenditionFormat[] {
  const ranges = mediaRanges(accept ?? '');
  const named = NEGOTIABLE.filter(({ mime }) => {
    const weights = ranges.filter(({ range }) => range === mime).map(({ q }) => q);
    return weights.length > 0 && weights.every((q) => q > 0);
  });
  return [...named.map(({ format }) => format), FALLBACK];
}
