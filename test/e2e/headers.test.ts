import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { fetchBytes, upload, waitForImage, type UploadResponse } from '../support/http';

const AS_ADMIN = { Authorization: `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}` };
const IMAGE_CSP = "default-src 'none'; sandbox";

// The browser objects the in-page script below uses; this project compiles without the DOM library.
declare class Image {
  crossOrigin: string;
  src: string;
  naturalWidth: number;
  naturalHeight: number;
  decode(): Promise<void>;
}
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { drawImage(image: Image, x: number, y: number): void } | null;
  toDataURL(type: string): string;
}
declare const document: { createElement(tag: 'canvas'): Canvas };

describe('If-Range across the pending -> ready switch', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    // No worker yet: the rendition stays pending, and its URL serves the original meanwhile.
    ctx = await createTestContext({ worker: false });
  });
  afterAll(async () => ctx?.stop());

  it('gives a download resumed with the old ETag the whole new rendition, never a splice', async () => {
    const created = (await (await upload(ctx.url, readCorpus('photos/DSCN0010.jpg'))).json()) as UploadResponse;
    const url = `${ctx.url}/i/${created.id}/m.webp`;

    // The download starts while the rendition is pending: the first bytes are the (JPEG) original.
    const first = await fetchBytes(url, { headers: { Range: 'bytes=0-99' } });
    expect(first.response.status).toBe(206);
    expect(first.response.headers.get('x-rendition-status')).toBe('pending');
    expect(first.response.headers.get('content-type')).toBe('image/jpeg');
    const pendingEtag = first.response.headers.get('etag')!;

    ctx.startWorker();
    await waitForImage(ctx.url, created.id, (image) => image.status === 'ready');
    const whole = await fetchBytes(url);
    expect(whole.response.headers.get('content-type')).toBe('image/webp');
    const readyEtag = whole.response.headers.get('etag')!;
    expect(readyEtag).not.toBe(pendingEtag);

    // It resumes where it stopped, naming what it holds: that is gone, so it gets the rendition whole.
    const resumed = await fetchBytes(url, { headers: { Range: 'bytes=100-', 'If-Range': pendingEtag } });
    expect(resumed.response.status).toBe(200);
    expect(resumed.response.headers.get('content-range')).toBeNull();
    expect(resumed.response.headers.get('content-type')).toBe('image/webp');
    expect(resumed.body.equals(whole.body)).toBe(true);

    // The current ETag still resumes, from storage.
    const resumedNow = await fetchBytes(url, { headers: { Range: 'bytes=100-', 'If-Range': readyEtag } });
    expect(resumedNow.response.status).toBe(206);
    expect(resumedNow.response.headers.get('content-range')).toBe(`bytes 100-${whole.body.length - 1}/${whole.body.length}`);
    expect(resumedNow.body.equals(whole.body.subarray(100))).toBe(true);

    // We send no Last-Modified, so a date can never vouch for the bytes a client holds.
    const byDate = await fetch(url, { headers: { Range: 'bytes=100-', 'If-Range': new Date().toUTCString() } });
    expect(byDate.status).toBe(200);
  });
});

describe('headers of the CDN routes, the JSON API and the pages', () => {
  let ctx: TestContext;
  let image: UploadResponse;
  let rejected: UploadResponse;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
    image = (await (await upload(ctx.url, readCorpus('photos/DSCN0021.jpg'))).json()) as UploadResponse;
    rejected = (await (await upload(ctx.url, readCorpus('photos/DSCN0029.jpg'))).json()) as UploadResponse;
    const takedown = await fetch(`${ctx.url}/api/v1/admin/images/${rejected.id}/moderation`, {
      method: 'POST',
      headers: { ...AS_ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ verdict: 'reject' }),
    });
    expect(takedown.status).toBe(200);
  });
  afterAll(async () => ctx?.stop());

  it('sends Access-Control-Allow-Origin: * on every CDN answer, keeping the images\' own strict headers', async () => {
    const original = image.url;
    const etag = (await fetch(original)).headers.get('etag')!;
    const answers: [string, number, Promise<Response>][] = [
      ['original', 200, fetch(original)],
      ['rendition (pending)', 200, fetch(`${ctx.url}/i/${image.id}/m.webp`)],
      ['range', 206, fetch(original, { headers: { Range: 'bytes=0-9' } })],
      ['revalidation', 304, fetch(original, { headers: { 'If-None-Match': etag } })],
      ['HEAD', 200, fetch(original, { method: 'HEAD' })],
      ['unknown id', 404, fetch(`${ctx.url}/i/nope123.jpg`)],
      ['no such CDN route', 404, fetch(`${ctx.url}/i/${image.id}/m/x.webp`)],
      ['taken down', 451, fetch(rejected.url)],
    ];
    for (const [name, status, answer] of answers) {
      const response = await answer;
      expect(response.status, name).toBe(status);
      expect(response.headers.get('access-control-allow-origin'), name).toBe('*');
      expect(response.headers.get('cross-origin-resource-policy'), name).toBe('cross-origin');
      expect(response.headers.get('access-control-expose-headers'), name).toMatch(/\bETag\b/);
      if (status !== 304) {
        expect(response.headers.get('content-security-policy'), name).toBe(IMAGE_CSP);
        expect(response.headers.get('x-content-type-options'), name).toBe('nosniff');
      }
    }
  });

  it('answers a CORS preflight on /i/* with 204 and what it allows', async () => {
    const response = await fetch(`${ctx.url}/i/${image.id}/m.webp`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://elsewhere.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range, if-none-match' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-methods')).toMatch(/\bGET\b/);
    expect(response.headers.get('access-control-allow-headers')).toMatch(/\bRange\b.*\bIf-None-Match\b|\bIf-None-Match\b.*\bRange\b/);
  });

  it('puts helmet\'s headers and a strict CSP on the JSON API and the upload page', async () => {
    const answers: [string, number, Promise<Response>][] = [
      ['upload page', 200, fetch(`${ctx.url}/`)],
      ['page script', 200, fetch(`${ctx.url}/upload.js`)],
      ['image resource', 200, fetch(`${ctx.url}/api/v1/images/${image.id}`)],
      ['JSON 404', 404, fetch(`${ctx.url}/api/v1/images/nope123`)],
      ['liveness', 200, fetch(`${ctx.url}/healthz`)],
    ];
    for (const [name, status, answer] of answers) {
      const response = await answer;
      expect(response.status, name).toBe(status);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp, name).toContain("default-src 'self'");
      expect(csp, name).toContain("script-src 'self'");
      expect(csp, name).toContain("frame-ancestors 'none'");
      expect(csp, name).not.toContain('unsafe-inline');
      // The page shows the images from PUBLIC_BASE_URL, the CDN's own host in production.
      expect(csp, name).toContain(`img-src 'self' data: ${new URL(ctx.services.config.publicBaseUrl).origin}`);
      expect(response.headers.get('x-content-type-options'), name).toBe('nosniff');
      expect(response.headers.get('x-frame-options'), name).toBe('SAMEORIGIN');
      expect(response.headers.get('referrer-policy'), name).toBe('no-referrer');
      expect(response.headers.get('cross-origin-opener-policy'), name).toBe('same-origin');
      expect(response.headers.get('x-powered-by'), name).toBeNull();
    }
  });

  it("gives Bull Board a CSP that fits its UI (inline styles, its fonts)", async () => {
    const response = await fetch(`${ctx.url}/admin/queues`, { headers: AS_ADMIN });
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self' 'unsafe-inline' https://fonts.googleapis.com");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  describe('in a browser', () => {
    let browser: Browser;
    let otherOrigin: Server;
    let otherOriginUrl: string;
    beforeAll(async () => {
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      // A page on another origin (another port) than the images.
      otherOrigin = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'));
      await new Promise<void>((resolve) => otherOrigin.listen(0, '127.0.0.1', resolve));
      otherOriginUrl = `http://127.0.0.1:${(otherOrigin.address() as AddressInfo).port}/`;
    });
    afterAll(async () => {
      await browser?.close();
      otherOrigin?.close();
    });

    it('lets a page on another origin fetch an image, read its ETag and draw it on a canvas it can read back', async () => {
      const page = await browser.newPage();
      await page.goto(otherOriginUrl);
      const result = await page.evaluate(async (src) => {
        const response = await fetch(src);
        const img = new Image();
        img.crossOrigin = 'anonymous';
        img.src = src;
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        canvas.getContext('2d')!.drawImage(img, 0, 0);
        // A canvas tainted by an image without CORS throws here.
        return { status: response.status, etag: response.headers.get('etag'), dataUrl: canvas.toDataURL('image/png').slice(0, 22) };
      }, image.url);
      expect(result.status).toBe(200);
      expect(result.etag).toMatch(/^"/);
      expect(result.dataUrl).toBe('data:image/png;base64,');
      await page.close();
    });

    it('runs the upload page and Bull Board without a single CSP violation', async () => {
      const context = await browser.newContext({ httpCredentials: { username: ADMIN.user, password: ADMIN.password } });
      const violations: string[] = [];
      context.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
      });
      const page = await context.newPage();
      await page.goto(`${ctx.url}/`);
      await expect.poll(() => page.locator('#drop-zone').isVisible()).toBe(true);
      await page.goto(`${ctx.url}/admin/queues`);
      // The board has rendered its queues: its scripts ran and fetched its API.
      await expect.poll(() => page.getByText('render-avif').first().isVisible(), { timeout: 20_000 }).toBe(true);
      expect(violations).toEqual([]);
      await context.close();
    });
  });
});
