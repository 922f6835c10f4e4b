import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { fetchBytes, upload, waitForImage, type UploadResponse } from '../support/http';
import { checkNginxConfig, nginxInstalled, startNginxCdn, type NginxCdn } from '../support/nginx-cdn';

const CHROMIUM_ACCEPT = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
const FIREFOX_ACCEPT = 'image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5';
const OLD_SAFARI_ACCEPT = 'image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5';

/** deploy/nginx/cdn.conf itself, run by Debian's nginx in front of a real API. */
describe.skipIf(!nginxInstalled)('the nginx CDN (deploy/nginx/cdn.conf)', () => {
  let ctx: TestContext;
  let cdn: NginxCdn;
  let image: UploadResponse;
  const viaCdn = (path: string, accept: string, init: RequestInit = {}) =>
    fetchBytes(`${cdn.url}${path}`, { ...init, headers: { Accept: accept, ...init.headers } });

  beforeAll(async () => {
    ctx = await createTestContext();
    cdn = await startNginxCdn(ctx.url);
    image = (await (await upload(ctx.url, readCorpus('photos/DSCN0040.jpg'))).json()) as UploadResponse;
    await waitForImage(ctx.url, image.id, (resource) => resource.status === 'ready', 120_000);
  });
  afterAll(async () => {
    await cdn?.stop();
    await ctx?.stop();
  });

  it('is a configuration nginx accepts', async () => {
    expect(await checkNginxConfig(ctx.url)).toBeUndefined();
  });

  it('caches the negotiated URL once per format class: no client gets a format another class asked for', async () => {
    const path = `/i/${image.id}/m`;
    const rounds: Array<[string, string, string]> = [
      [CHROMIUM_ACCEPT, 'image/avif', 'MISS'],
      ['*/*', 'image/jpeg', 'MISS'],
      [OLD_SAFARI_ACCEPT, 'image/webp', 'MISS'],
      // Another browser of a class already cached: the same copy, although its Accept string differs.
      [FIREFOX_ACCEPT, 'image/avif', 'HIT'],
      [CHROMIUM_ACCEPT, 'image/avif', 'HIT'],
      ['image/webp', 'image/webp', 'HIT'],
      ['image/avif;q=0,image/webp', 'image/webp', 'HIT'],
      ['image/*', 'image/jpeg', 'HIT'],
      ['image/avif;q=0.0, image/webp;q=0', 'image/jpeg', 'HIT'],
    ];
    for (const [accept, type, cache] of rounds) {
      const { response, body } = await viaCdn(path, accept);
      expect(response.status, accept).toBe(200);
      expect(response.headers.get('content-type'), accept).toBe(type);
      expect(response.headers.get('x-cache-status'), accept).toBe(cache);
      expect(response.headers.get('vary'), accept).toBe('Accept');
      const format = type === 'image/jpeg' ? 'jpg' : type.slice('image/'.length);
      expect(body.equals((await fetchBytes(`${ctx.url}/i/${image.id}/m.${format}`)).body), accept).toBe(true);
    }
  });

  it('serves the Imgur-style names through the cache', async () => {
    const first = await viaCdn(`/i/${image.id}s.jpg`, CHROMIUM_ACCEPT);
    expect(first.response.status).toBe(200);
    expect(first.response.headers.get('content-type')).toBe('image/jpeg');
    expect((await viaCdn(`/i/${image.id}s.jpg`, '*/*')).response.headers.get('x-cache-status')).toBe('HIT');
  });

  it("purges one format class's copy with that class's Accept header, as a takedown does", async () => {
    const path = `/i/${image.id}/l`;
    for (const accept of [CHROMIUM_ACCEPT, OLD_SAFARI_ACCEPT]) expect((await viaCdn(path, accept)).response.status).toBe(200);
    const deleted = await fetch(`${ctx.url}/api/v1/images/${image.id}`, { method: 'DELETE', headers: { 'X-Delete-Token': image.delete_token } });
    expect(deleted.status).toBe(204);
    // Still cached (immutable) until purged.
    expect((await viaCdn(path, CHROMIUM_ACCEPT)).response.headers.get('x-cache-status')).toBe('HIT');

    // The WebP class's copy only: 200, it was dropped.
    expect((await viaCdn(`/purge${path}`, 'image/webp')).response.status).toBe(200);
    expect((await viaCdn(path, OLD_SAFARI_ACCEPT)).response.status).toBe(404);
    expect((await viaCdn(path, CHROMIUM_ACCEPT)).response.status).toBe(200);

    expect((await viaCdn(`/purge${path}`, 'image/avif')).response.status).toBe(200);
    // 404: nothing left to drop.
    expect((await viaCdn(`/purge${path}`, 'image/avif')).response.status).toBe(404);
    expect((await viaCdn(path, FIREFOX_ACCEPT)).response.status).toBe(404);
  });
});
