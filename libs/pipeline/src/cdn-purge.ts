import type { Logger } from '@renditions/observability';

/** Makes a CDN in front of the origin forget cached copies, so a taken-down image stops being served at once. */
export interface CdnPurger {
  /** Best effort: failures are logged, never thrown; the origin already refuses the URLs. */
  purge(urls: string[]): Promise<void>;
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
    await Promise.all(urls.map((url) => this.purgeOne(url)));
  }

  private async purgeOne(url: string): Promise<void> {
    const target = purgeRequestUrl(this.purgeBaseUrl, url);
    try {
      const response = await fetch(target, { signal: AbortSignal.timeout(this.timeoutMs), redirect: 'manual' });
      await response.body?.cancel();
      if (!purgeSucceeded(response.status)) {
        this.logger.error({ url, target, status: response.status }, 'the CDN refused a purge; it may serve the URL until it expires');
      }
    } catch (error) {
      this.logger.error({ err: error, url, target }, 'could not purge a URL from the CDN; it may serve it until it expires');
    }
  }
}

export function createCdnPurger(purgeBaseUrl: string | null, logger: Logger): CdnPurger {
  return purgeBaseUrl ? new HttpCdnPurger(purgeBaseUrl, logger) : noopCdnPurger;
}
