import type { Asset, Image, Rendition } from '@renditions/db';
import type { RenditionFormat, RenditionSize } from '@renditions/imaging';
import { originalCachedCopies, renditionCachedCopies, type CachedCopy } from './public-urls';
import type { Services } from './services';

/** What the CDN routes of an asset answer from: the asset row (its stored original) and its renditions. */
export interface ServedState {
  asset: Asset;
  renditions: Rendition[];
}

/**
 * The copies a CDN may hold of answers that a change has just made final. Until a rendition is ready its URLs
 * answer with a stand-in (the original, or another format), and until the stripped original is stored the
 * original's URL answers with one stripped on the fly, each cached for up to 60 s (serve.ts CACHE_SHORT). A
 * re-render of a ready rendition is not one of these: `npm run reprocess` purges its old copy itself.
 */
export async function replacedStandIns(
  liveImages: () => Promise<Image[]>,
  baseUrl: string,
  before: ServedState,
  after: ServedState,
): Promise<CachedCopy[]> {
  const wasReady = new Set(before.renditions.filter((r) => r.status === 'ready').map((r) => `${r.size}.${r.format}`));
  const nowReady = after.renditions.filter((r) => r.status === 'ready' && !wasReady.has(`${r.size}.${r.format}`));
  const originalStored = before.asset.strippedEtag === null && after.asset.strippedEtag !== null;
  if (nowReady.length === 0 && !originalStored) return [];
  return (await liveImages()).flatMap((image) => [
    ...(originalStored ? originalCachedCopies(baseUrl, image.id, after.asset.ext) : []),
    ...nowReady.flatMap((r) => renditionCachedCopies(baseUrl, image.id, r.size as RenditionSize, r.format as RenditionFormat)),
  ]);
}

/**
 * After the change is committed, the CDN drops those stand-ins, so a client sees the rendition at once instead of
 * once the stand-in's max-age has run out. Not awaited, and not retried: the stand-in expires by itself within
 * 60 s anyway, which is not worth holding up a render for a slow CDN; a failure is logged.
 */
export function purgeStandIns(services: Pick<Services, 'cdn' | 'logger'>, copies: CachedCopy[]): void {
  if (copies.length === 0) return;
  services.cdn.purge(copies).catch((error: unknown) => {
    services.logger.warn({ err: error }, 'the CDN did not drop stand-ins of answers now ready; they expire within 60 s');
  });
}
