import { findRendition, type Asset } from '@renditions/db';
import { GoneError, NotFoundError, UnavailableForLegalReasonsError } from '@renditions/errors';
import { RENDITION_FORMATS, RENDITION_SIZES, renditionMime } from '@renditions/imaging';
import { loadImage } from './images';
import { stripOnTheFly } from './on-the-fly-strip';
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

/** Other spellings an original is served under, each mapped to the stored extension. */
import { EXT_ALIASES } from './public-urls';

/** `GET /i/:id.:ext`: the metadata-free original; cached for good once the stripped copy is stored. */
export async function resolveOriginal(services: Services, id: string, ext: string): Promise<ServedImage> {
  const asset = await loadServableAsset(services, id);
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
  if (!RENDITION_SIZES.includes(size as never) || !RENDITION_FORMATS.includes(format as never)) {
    throw new NotFoundError(`No rendition "${size}.${format}"; sizes are ${RENDITION_SIZES.join(', ')}`);
  }
  const asset = await loadServableAsset(services, id);
  const rendition = await findRendition(services.db, asset.id, size, format);
  if (!rendition) throw new NotFoundError(`No rendition "${size}.${format}" for image "${id}"`);
  if (rendition.status === 'ready' && rendition.storageKey && rendition.etag) {
    return {
      body: { kind: 'stored', key: rendition.storageKey, size: rendition.bytes ?? 0 },
      etag: rendition.etag,
      contentType: renditionMime(rendition.format as never),
      cacheControl: CACHE_IMMUTABLE,
      renditionStatus: 'ready',
    };
  }
  const original = await metadataFreeOriginal(services, asset);
  return { ...original, cacheControl: CACHE_SHORT, renditionStatus: rendition.status };
}

async function loadServableAsset(services: Services, id: string): Promise<Asset> {
  const { asset } = await loadImage(services, id).catch((error: unknown) => {
    // The CDN does not distinguish deleted from unknown: both are a short-lived 404.
    throw error instanceof GoneError ? new NotFoundError(error.message) : error;
  });
  if (asset.moderationVerdict === 'reject') {
    throw new UnavailableForLegalReasonsError(`Image "${id}" was removed by moderation`);
  }
  return asset;
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
