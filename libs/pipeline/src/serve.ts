import type { Asset, Rendition } from '@renditions/db';
import { GoneError, NotFoundError, UnavailableForLegalReasonsError } from '@renditions/errors';
import { RENDITION_FORMATS, RENDITION_SIZES, renditionMime, type RenditionFormat } from '@renditions/imaging';
import { loadImage } from './images';
import { negotiateFormats } from './negotiate-format';
import { stripOnTheFly } from './on-the-fly-strip';
import { EXT_ALIASES } from './public-urls';
import type { Services } from './services';

export const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
/** Anything that may still change (not processed yet, errors) is cached briefly at most. */
export const CACHE_SHORT = 'public, max-age=60';

export type ServedBody = { kind: 'stored'; key: string; size: number } | { kind: 'buffer'; data: Buffer };

/** What a CDN route sends: the HTTP layer adds conditional requests, ranges and the security headers. */
export interface ServedImage {
  body: ServedBody;
  etag: string;
  contentType: string;
  cacheControl: string;
  renditionStatus?: string;
}

/** `GET /i/:id.:ext`: the metadata-free original; cached for good once the stripped copy is stored. */
export async function resolveOriginal(services: Services, id: string, ext: string): Promise<ServedImage> {
  const { asset } = await loadServableImage(services, id);
  if ((EXT_ALIASES[ext] ?? ext) !== asset.ext) throw new NotFoundError(`Image "${id}" has no .${ext} original`);
  return metadataFreeOriginal(services, asset);
}

/** `GET /i/:id/:size.:format`: the rendition once ready, until then the metadata-free original, briefly cached. */
export async function resolveRendition(
  services: Services,
  id: string,
  size: string,
  format: string,
): Promise<ServedImage> {
  if (!RENDITION_FORMATS.includes(format as never)) {
    throw new NotFoundError(`No rendition "${size}.${format}"; formats are ${RENDITION_FORMATS.join(', ')}`);
  }
  return resolveBestReady(services, id, size, [format as RenditionFormat]);
}

/**
 * `GET /i/:id/:size`: the rendition in the best format the `Accept` header names (negotiateFormats). While that one
 * is not ready, the best ready format the client also takes stands in for it, else the metadata-free original; both
 * briefly cached, as the answer changes once it is ready.
 */
export async function resolveNegotiatedRendition(
  services: Services,
  id: string,
  size: string,
  accept: string | undefined,
): Promise<ServedImage> {
  return resolveBestReady(services, id, size, negotiateFormats(accept));
}

/** The first of `formats` (best first) is the one asked for; the others may stand in while it is not ready. */
async function resolveBestReady(
  services: Services,
  id: string,
  size: string,
  formats: RenditionFormat[],
): Promise<ServedImage> {
  if (!RENDITION_SIZES.includes(size as never)) {
    throw new NotFoundError(`No rendition size "${size}"; sizes are ${RENDITION_SIZES.join(', ')}`);
  }
  const { asset, renditions } = await loadServableImage(services, id);
  const candidates = formats.flatMap((format) => renditions.find((r) => r.size === size && r.format === format) ?? []);
  const wanted = candidates[0];
  if (!wanted || wanted.format !== formats[0]) throw new NotFoundError(`No rendition "${size}.${formats[0]}" for image "${id}"`);
  const ready = candidates.find(isServable);
  if (ready === wanted) return storedRendition(ready);
  const standIn = ready ? storedRendition(ready) : await metadataFreeOriginal(services, asset);
  return { ...standIn, cacheControl: CACHE_SHORT, renditionStatus: wanted.status };
}

type ServableRendition = Rendition & { storageKey: string; etag: string };

function isServable(rendition: Rendition): rendition is ServableRendition {
  return rendition.status === 'ready' && rendition.storageKey !== null && rendition.etag !== null;
}

function storedRendition(rendition: ServableRendition): ServedImage {
  return {
    body: { kind: 'stored', key: rendition.storageKey, size: rendition.bytes ?? 0 },
    etag: rendition.etag,
    contentType: renditionMime(rendition.format as RenditionFormat),
    cacheControl: CACHE_IMMUTABLE,
    renditionStatus: 'ready',
  };
}

async function loadServableImage(services: Services, id: string): Promise<{ asset: Asset; renditions: Rendition[] }> {
  const { asset, renditions } = await loadImage(services, id).catch((error: unknown) => {
    // The CDN does not distinguish deleted from unknown: both are a short-lived 404.
    throw error instanceof GoneError ? new NotFoundError(error.message) : error;
  });
  if (asset.moderationVerdict === 'reject') {
    throw new UnavailableForLegalReasonsError(`Image "${id}" was removed by moderation`);
  }
  return { asset, renditions };
}

async function metadataFreeOriginal(services: Services, asset: Asset): Promise<ServedImage> {
  if (asset.strippedKey && asset.strippedEtag) {
    return {
      body: { kind: 'stored', key: asset.strippedKey, size: asset.strippedBytes ?? 0 },
      etag: asset.strippedEtag,
      contentType: asset.mime,
      cacheControl: CACHE_IMMUTABLE,
    };
  }
  // Before the strip stage has run, strip on the fly: no served byte may carry the uploader's metadata.
  const stripped = await stripOnTheFly(services, asset);
  return {
    body: { kind: 'buffer', data: stripped.data },
    etag: stripped.etag,
    contentType: asset.mime,
    cacheControl: CACHE_SHORT,
  };
}
