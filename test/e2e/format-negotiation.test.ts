import { sql } from 'drizzle-orm';
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/chromium';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { fetchBytes, upload, waitForImage, type UploadResponse } from '../support/http';

/** What Chromium sends for an <img> (checked against the real browser below). */
const CHROMIUM_ACCEPT = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
const IMMUTABLE = 'public, max-age=31536000, immutable';
const SHORT = /max-age=(\d+)/;

function expectCdnHeaders(response: Response): void {
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
  expect(response.headers.get('access-control-allow-origin')).toBe('*');
}

function expectShortLived(response: Response): void {
  const maxAge = SHORT.exec(response.headers.get('cache-control') ?? '');
  expect(Number(maxAge?.[1]), response.headers.get('cache-control') ?? 'no Cache-Control').toBeLessThanOrEqual(60);
  expect(response.headers.get('cache-control')).not.toContain('immutable');
}

describe('format negotiation on /i/:id/:size', () => {
  let ctx: TestContext;
  let image: UploadResponse;
  const negotiated = (accept?: string, init: RequestInit = {}) =>
    fetchBytes(`${ctx.url}/i/${image.id}/m`, { ...init, headers: { ...(accept ? { Accept: accept } : {}), ...init.headers } });
  const rendition = (format: string) => fetchBytes(`${ctx.url}/i/${image.id}/m.${format}`);
  /** Puts one rendition of the image in a status, as the worker's rows would be mid-processing. */
  const setStatus = (format: string, status: string) =>
    ctx.services.db.execute(
      sql`update renditions set status = ${status} where size = 'm' and format = ${format}
          and asset_id = (select asset_id from images where id = ${image.id})`,
    );

  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
    image = (await (await upload(ctx.url, readCorpus('photos/DSCN0010.jpg'))).json()) as UploadResponse;
  });
  afterAll(async () => {
    await ctx?.stop();
  });

  it('serves the metadata-free original, briefly cached, while no rendition is ready', async () => {
    const { response, body } = await negotiated(CHROMIUM_ACCEPT);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/jpeg');
    expect(response.headers.get('x-rendition-status')).toBe('pending');
    expect(response.headers.get('vary')).toBe('Accept');
    expectShortLived(response);
    expectCdnHeaders(response);
    const original = await fetchBytes(`${ctx.url}/i/${image.id}.jpg`);
    expect(body.equals(original.body)).toBe(true);
    expect(response.headers.get('etag')).toBe(original.response.headers.get('etag'));
  });

  it('serves each client the best ready format its Accept header names, for good, once ready', async () => {
    ctx.startWorker();
    await waitForImage(ctx.url, image.id, (resource) => resource.status === 'ready', 120_000);
    const cases: Array<[string | undefined, string]> = [
      [CHROMIUM_ACCEPT, 'avif'],
      ['image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5', 'avif'],
      ['image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5', 'webp'],
      ['image/avif;q=0,image/webp,*/*', 'webp'],
      ['*/*', 'jpg'],
      ['image/*', 'jpg'],
      ['image/avif;q=0, image/webp;q=0, */*', 'jpg'],
    ];
    for (const [accept, format] of cases) {
      const { response, body } = await negotiated(accept);
      const direct = await rendition(format);
      expect(response.status, accept).toBe(200);
      expect(response.headers.get('content-type'), accept).toBe(direct.response.headers.get('content-type'));
      expect(body.equals(direct.body), accept).toBe(true);
      expect(response.headers.get('etag')).toBe(direct.response.headers.get('etag'));
      expect(response.headers.get('cache-control')).toBe(IMMUTABLE);
      expect(response.headers.get('x-rendition-status')).toBe('ready');
      expect(response.headers.get('vary')).toBe('Accept');
      expectCdnHeaders(response);
    }
    expect((await sharp((await negotiated(CHROMIUM_ACCEPT)).body).metadata()).format).toBe('heif');
  });

  it('keeps the CDN guarantees: 304 per representation, HEAD, Range and If-Range', async () => {
    const avif = await negotiated(CHROMIUM_ACCEPT);
    const etag = avif.response.headers.get('etag')!;
    expect(etag).toMatch(/^"[^"]+"$/);

    const notModified = await negotiated(CHROMIUM_ACCEPT, { headers: { 'If-None-Match': etag } });
    expect(notModified.response.status).toBe(304);
    expect(notModified.response.headers.get('vary')).toBe('Accept');
    // The AVIF's tag does not validate the JPEG another client gets.
    const jpeg = await negotiated('*/*', { headers: { 'If-None-Match': etag } });
    expect(jpeg.response.status).toBe(200);
    expect(jpeg.response.headers.get('content-type')).toBe('image/jpeg');

    const head = await negotiated(CHROMIUM_ACCEPT, { method: 'HEAD' });
    expect(head.response.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.response.headers.get('content-length')).toBe(String(avif.body.length));
    expect(head.response.headers.get('content-type')).toBe('image/avif');

    const range = await negotiated(CHROMIUM_ACCEPT, { headers: { Range: 'bytes=10-109', 'If-Range': etag } });
    expect(range.response.status).toBe(206);
    expect(range.response.headers.get('content-range')).toBe(`bytes 10-109/${avif.body.length}`);
    expect(range.body.equals(avif.body.subarray(10, 110))).toBe(true);
    const stale = await negotiated(CHROMIUM_ACCEPT, { headers: { Range: 'bytes=10-109', 'If-Range': '"another"' } });
    expect(stale.response.status).toBe(200);
    expect(stale.body.length).toBe(avif.body.length);
  });

  it('stands in the best ready format the client also takes while its best is not ready, briefly cached', async () => {
    try {
      await setStatus('avif', 'processing');
      const webp = await negotiated(CHROMIUM_ACCEPT);
      expect(webp.response.headers.get('content-type')).toBe('image/webp');
      expect(webp.body.equals((await rendition('webp')).body)).toBe(true);
      expect(webp.response.headers.get('x-rendition-status')).toBe('processing');
      expectShortLived(webp.response);

      // A client that does not take WebP skips it.
      const jpeg = await negotiated('image/avif,*/*');
      expect(jpeg.response.headers.get('content-type')).toBe('image/jpeg');
      expect(jpeg.body.equals((await rendition('jpg')).body)).toBe(true);
      expectShortLived(jpeg.response);

      await setStatus('webp', 'failed');
      const fallback = await negotiated(CHROMIUM_ACCEPT);
      expect(fallback.response.headers.get('content-type')).toBe('image/jpeg');
      expect(fallback.response.headers.get('x-rendition-status')).toBe('processing');

      await setStatus('jpg', 'pending');
      const original = await negotiated(CHROMIUM_ACCEPT);
      expect(original.body.equals((await fetchBytes(`${ctx.url}/i/${image.id}.jpg`)).body)).toBe(true);
      expectShortLived(original.response);
      // What the client asked for by name is unaffected by the other formats.
      expect((await negotiated('image/webp')).response.headers.get('x-rendition-status')).toBe('failed');
    } finally {
      for (const format of ['avif', 'webp', 'jpg']) await setStatus(format, 'ready');
    }
    expect((await negotiated(CHROMIUM_ACCEPT)).response.headers.get('cache-control')).toBe(IMMUTABLE);
  });

  it('answers 404, briefly cached, for an unknown or deleted image, a malformed id or an unknown size; never 500', async () => {
    const doomed = (await (await upload(ctx.url, readCorpus('photos/DSCN0010.jpg'))).json()) as UploadResponse;
    expect((await fetch(`${ctx.url}/i/${doomed.id}/m`)).status).toBe(200);
    await fetch(`${ctx.url}/api/v1/images/${doomed.id}`, { method: 'DELETE', headers: { 'X-Delete-Token': doomed.delete_token } });
    const paths = [`/i/${doomed.id}/m`, '/i/zzzzzzz/m', '/i/abc/m', '/i/%ff%fe/m', `/i/${image.id}%00/m`, `/i/${image.id}/x`, `/i/${image.id}/%00`, `/i/${image.id}/`];
    for (const path of paths) {
      const { response } = await fetchBytes(`${ctx.url}${path}`, { headers: { Accept: CHROMIUM_ACCEPT } });
      expect(response.status, path).toBe(404);
      expectShortLived(response);
      expectCdnHeaders(response);
      expect(response.headers.get('etag'), path).toBeNull();
    }
  });

  it("gives Chromium's <img> the AVIF once ready, and the WebP while the AVIF is not", async () => {
    const browser: Browser = await launchChromium();
    const load = async () => {
      // A fresh context each time: no cached copy from the previous load.
      const context = await browser.newContext();
      const page = await context.newPage();
      const seen: Array<{ accept: string; type: string }> = [];
      page.on('response', async (response) => {
        if (response.url().endsWith(`/i/${image.id}/m`)) {
          seen.push({ accept: (await response.request().allHeaders()).accept ?? '', type: response.headers()['content-type'] ?? '' });
        }
      });
      await page.setContent(`<img id="photo" src="${ctx.url}/i/${image.id}/m">`);
      // Decoded: complete, with the pixels' width (0 for an image the browser could not decode).
      const decodedWidth = () => page.locator('#photo').evaluate((photo) => (photo.complete ? photo.naturalWidth : -1));
      await expect.poll(decodedWidth, { timeout: 30_000 }).toBeGreaterThanOrEqual(0);
      const width = await decodedWidth();
      await context.close();
      return { seen, width };
    };
    const listed = image.renditions.find((entry) => entry.size === 'm' && entry.format === 'avif')!;
    try {
      await setStatus('avif', 'processing');
      const before = await load();
      expect(before.seen.map(({ type }) => type)).toEqual(['image/webp']);

      await setStatus('avif', 'ready');
      const after = await load();
      expect(after.seen).toEqual([{ accept: expect.stringContaining('image/avif'), type: 'image/avif' }]);
      // The browser decoded it: its pixels are the size the resource lists.
      expect(after.width).toBe(listed.width);
    } finally {
      await setStatus('avif', 'ready');
      await browser.close();
    }
  });
});

describe('Imgur-style suffix URLs', () => {
  let ctx: TestContext;
  let image: UploadResponse;
  beforeAll(async () => {
    ctx = await createTestContext();
    image = (await (await upload(ctx.url, readCorpus('photos/DSCN0021.jpg'))).json()) as UploadResponse;
    await waitForImage(ctx.url, image.id, (resource) => resource.status === 'ready', 120_000);
  });
  afterAll(async () => {
    await ctx?.stop();
  });

  it('serves /i/<id><size>.jpg as /i/<id>/<size>.jpg, for every size', async () => {
    for (const size of ['s', 'b', 't', 'm', 'l', 'h']) {
      const suffixed = await fetchBytes(`${ctx.url}/i/${image.id}${size}.jpg`);
      const direct = await fetchBytes(`${ctx.url}/i/${image.id}/${size}.jpg`);
      expect(suffixed.response.status, size).toBe(200);
      expect(suffixed.body.equals(direct.body), size).toBe(true);
      for (const header of ['content-type', 'etag', 'cache-control', 'x-rendition-status']) {
        expect(suffixed.response.headers.get(header), `${size} ${header}`).toBe(direct.response.headers.get(header));
      }
      expectCdnHeaders(suffixed.response);
    }
    const etag = (await fetch(`${ctx.url}/i/${image.id}m.jpg`, { method: 'HEAD' })).headers.get('etag')!;
    expect((await fetch(`${ctx.url}/i/${image.id}m.jpg`, { headers: { 'If-None-Match': etag } })).status).toBe(304);
    const range = await fetchBytes(`${ctx.url}/i/${image.id}m.jpg`, { headers: { Range: 'bytes=0-9' } });
    expect(range.response.status).toBe(206);
    expect(range.body.length).toBe(10);
  });

  it('still reads a 7-character name as an id, even one that ends in a size letter', async () => {
    // Uploads of the same bytes share everything but the id: upload until one ends in a size letter (1 in 10 do).
    let lookalike = image;
    for (let attempt = 0; attempt < 200 && !/[sbtmlh]$/.test(lookalike.id); attempt += 1) {
      lookalike = (await (await upload(ctx.url, readCorpus('photos/DSCN0021.jpg'))).json()) as UploadResponse;
    }
    expect(lookalike.id).toMatch(/^[0-9A-Za-z]{6}[sbtmlh]$/);
    const original = await fetchBytes(`${ctx.url}/i/${lookalike.id}.jpg`);
    expect(original.response.status).toBe(200);
    expect(original.body.equals((await fetchBytes(`${ctx.url}/i/${image.id}.jpg`)).body)).toBe(true);
    expect(original.response.headers.get('x-rendition-status')).toBeNull();
  });

  it('answers 404 for malformed and unknown names, never 500', async () => {
    const names = [
      `${image.id}x.jpg`,
      `${image.id}M.jpg`,
      `${image.id}mm.jpg`,
      `${image.id}m.png`,
      `${image.id}m.jpeg`,
      `${image.id.slice(0, 6)}m.jpg`,
      'zzzzzzzm.jpg',
      '%00%00%00%00%00%00%00m.jpg',
      `${image.id}%00.jpg`,
      `${image.id.slice(0, 6)}%ffm.jpg`,
      '%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%ACm.jpg',
      'm.jpg',
      '.jpg',
    ];
    for (const name of names) {
      const { response } = await fetchBytes(`${ctx.url}/i/${name}`);
      expect(response.status, name).toBe(404);
      expectShortLived(response);
      expectCdnHeaders(response);
    }
  });
});
