import type { Logger } from '@renditions/observability';
import type { CachedCopy } from './public-urls';

/**
 * Makes a CDN in front of the origin forget cached copies: a taken-down or deleted image stops being served at
 * once, and a rendition that became ready replaces its stand-in at once.
 */
export interface CdnPurger {
  /** Whether a CDN is configured at all: without one, nobody needs to work out what to purge. */
  readonly active: boolean;
  /**
   * Tries every copy, then throws a CdnPurgeError naming those the CDN did not forget, so the cleanup job that
   * asked retries (the origin already refuses the URLs meanwhile).
   */
  purge(copies: CachedCopy[]): Promise<void>;
}

export class CdnPurgeError extends Error {
  override name = 'CdnPurgeError';
  constructor(readonly failedUrls: string[]) {
    super(`The CDN did not purge ${failedUrls.length} URL(s), e.g. ${failedUrls[0]}`);
  }
}

/** No CDN_PURGE_URL: nothing caches in front of the origin, or the cache expires entries by itself. */
export const noopCdnPurger: CdnPurger = {
  active: false,
  async purge() {},
};

/** Each purge request has this long to be answered: the takedown does not wait on a stuck CDN. */
export const PURGE_TIMEOUT_MS = 5000;

/**
 * The ngx_cache_purge convention: `GET <CDN_PURGE_URL>/purge<path>` drops the entry cached for `<path>`
 * (deploy/nginx/cdn.conf has the matching location).
 * @example purgeRequestUrl('http://cdn', 'https://img.example/i/abc.jpg') // 'http://cdn/purge/i/abc.jpg'
 */
export function purgeRequestUrl(purgeBaseUrl: string, publicUrl: string): string {
  return `${purgeBaseUrl.replace(/\/+$/, '')}/purge${new URL(publicUrl).pathname}`;
}

/** Whether the CDN did what was asked: 2xx it dropped the copy, 404 it had none (ngx_cache_purge's answers). */
export function purgeSucceeded(statusCode: number): boolean {
  return (statusCode >= 200 && statusCode < 300) || statusCode === 404;
}

/** How a copy is named in logs and errors: its URL, and the format class for a negotiated one. */
function describeCopy(copy: CachedCopy): string {
  return copy.accept === undefined ? copy.url : `${copy.url} (Accept: ${copy.accept})`;
}

/**
 * One request per copy, all at once, each with its own timeout. A negotiated URL's copy is reached with the Accept
 * header of its format class, which the CDN keys it by.
 */
export class HttpCdnPurger implements CdnPurger {
  readonly active = true;

  constructor(
    private readonly purgeBaseUrl: string,
    private readonly logger: Logger,
    private readonly timeoutMs = PURGE_TIMEOUT_MS,
  ) {}

  async purge(copies: CachedCopy[]): Promise<void> {
    const purged = await Promise.all(copies.map((copy) => this.purgeOne(copy)));
    const failed = copies.filter((_copy, index) => !purged[index]);
    if (failed.length > 0) throw new CdnPurgeError(failed.map(describeCopy));
  }

  private async purgeOne(copy: CachedCopy): Promise<boolean> {
    const url = describeCopy(copy);
    const target = purgeRequestUrl(this.purgeBaseUrl, copy.url);
    try {
      const response = await fetch(target, {
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'manual',
        headers: copy.accept === undefined ? undefined : { Accept: copy.accept },
      });
      await response.body?.cancel();
      if (purgeSucceeded(response.status)) return true;
      this.logger.warn({ url, target, status: response.status }, 'the CDN refused a purge');
    } catch (error) {
      this.logger.warn({ err: error, url, target }, 'could not reach the CDN to purge a URL');
    }
    return false;
  }
}

export function createCdnPurger(purgeBaseUrl: string | null, logger: Logger): CdnPurger {
  return purgeBaseUrl ? new HttpCdnPurger(purgeBaseUrl, logger) : noopCdnPurger;
}
