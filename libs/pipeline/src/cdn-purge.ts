import type { Logger } from '@renditions/observability';

/** Makes a CDN in front of the origin forget cached copies, so a taken-down image stops being served at once. */
export interface CdnPurger {
  /**
   * Tries every URL, then throws a CdnPurgeError naming those the CDN did not forget, so the cleanup job that
   * asked retries (the origin already refuses the URLs meanwhile).
   */
  purge(urls: string[]): Promise<void>;
}

export class CdnPurgeError extends Error {
  override name = 'CdnPurgeError';
  constructor(readonly failedUrls: string[]) {
    super(`The CDN did not purge ${failedUrls.length} URL(s), e.g. ${failedUrls[0]}`);
  }
}

/** No CDN_PURGE_URL: nothing caches in front of the origin, or the cache expires entries by itself. */
export const noopCdnPurger: CdnPurger = {
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

/**
 * Whether the CDN did what was asked: 2xx purged, 404 nothing was cached, 451 the entry was refreshed from the
 * origin, which refuses the image now (how stock nginx, without the purge module, serves the same location).
 */
export function purgeSucceeded(statusCode: number): boolean {
  return (statusCode >= 200 && statusCode < 300) || statusCode === 404 || statusCode === 451;
}

/** One request per URL, all at once, each with its own timeout. */
export class HttpCdnPurger implements CdnPurger {
  constructor(
    private readonly purgeBaseUrl: string,
    private readonly logger: Logger,
    private readonly timeoutMs = PURGE_TIMEOUT_MS,
  ) {}

  async purge(urls: string[]): Promise<void> {
    const purged = await Promise.all(urls.map((url) => this.purgeOne(url)));
    const failed = urls.filter((_url, index) => !purged[index]);
    if (failed.length > 0) throw new CdnPurgeError(failed);
  }

  private async purgeOne(url: string): Promise<boolean> {
    const target = purgeRequestUrl(this.purgeBaseUrl, url);
    try {
      const response = await fetch(target, { signal: AbortSignal.timeout(this.timeoutMs), redirect: 'manual' });
      await response.body?.cancel();
      if (purgeSucceeded(response.status)) return true;
      this.logger.warn({ url, target, status: response.status }, 'the CDN refused a purge; it will be retried');
    } catch (error) {
      this.logger.warn({ err: error, url, target }, 'could not purge a URL from the CDN; it will be retried');
    }
    return false;
  }
}

export function createCdnPurger(purgeBaseUrl: string | null, logger: Logger): CdnPurger {
  return purgeBaseUrl ? new HttpCdnPurger(purgeBaseUrl, logger) : noopCdnPurger;
}
