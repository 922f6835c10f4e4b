import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page, Route } from 'playwright-core';
import sharp from 'sharp';
import { thumbHashToDataURL } from 'thumbhash';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageResource } from '@renditions/pipeline';
import { launchChromium } from '../support/chromium';
import { createTestContext, type TestContext } from '../support/context';
import { corpusPath } from '../support/corpus';
import { fetchBytes, waitForImage } from '../support/http';

const SCREENSHOTS = path.resolve(import.meta.dirname, '../../test-results/screenshots');
const VIEWPORT = { width: 1280, height: 900 };
// 3264 x 2448: every "inside" size (t 160, m 320, l 640, h 1024) is a distinct width below the original's.
const PHOTO = 'photos/jolla.jpg';
// The sizes that are the whole picture at another resolution; s and b are square crops of this 4:3 photo.
const WHOLE_PICTURE_SIZES = ['t', 'm', 'l', 'h'];
// Quotes, an ampersand and angle brackets: the alt attribute must survive them.
const TITLE = 'Harbour "at dusk" & <boats>';

interface PictureMarkup {
  sources: { type: string | null; srcset: string | null; sizes: string | null }[];
  img: Record<string, string>;
}

/** `url 123w, ...` as [url, '123w'] pairs. */
const candidatesOf = (srcset: string | null) => (srcset ?? '').split(', ').map((candidate) => candidate.split(' '));

function expectedCandidates(image: ImageResource, format: string): string[][] {
  return image.renditions
    .filter((rendition) => rendition.format === format && WHOLE_PICTURE_SIZES.includes(rendition.size))
    .map((rendition) => [rendition.url, `${rendition.width}w`]);
}

async function idOfUpload(page: Page): Promise<string> {
  await expect.poll(() => page.inputValue('#original-link'), { timeout: 30_000 }).toMatch(/\/i\/\w{7}\.\w+$/);
  return (await page.inputValue('#original-link')).split('/').pop()!.split('.')[0]!;
}

/** The rendition images that finished loading with real pixels, as the page shows them. */
function loadedRenditionCount(page: Page): Promise<number> {
  return page
    .locator('#renditions img:not(.thumbhash)')
    .evaluateAll((images) => images.filter((image) => image.complete && image.naturalWidth > 0).length);
}

/** The ThumbHash placeholders on the page that are drawn (decoded, allowed by the CSP), by their src. */
function drawnPlaceholders(page: Page): Promise<string[]> {
  return page
    .locator('img.thumbhash:not([hidden])')
    .evaluateAll((images) => images.filter((image) => image.complete && image.naturalWidth > 0).map((image) => image.src));
}

describe('the upload page, embedding an image', () => {
  let ctx: TestContext;
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    ctx = await createTestContext();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await ctx?.stop();
  });

  it('shows the ThumbHash until the renditions load, and offers a <picture> of every rendition that works', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT, permissions: ['clipboard-read', 'clipboard-write'] });
    const page = await context.newPage();
    // The decoder is our own script and the placeholder a data: URL: the page's strict CSP must allow both.
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    // Every image byte (/i/...) is held back until the placeholders were seen: the page can show nothing else.
    const held: Route[] = [];
    const isImage = (url: URL) => url.pathname.startsWith('/i/');
    await page.route(isImage, (route) => void held.push(route));
    await page.goto(`${ctx.url}/`);
    await page.fill('#title-input', TITLE);
    await page.setInputFiles('#file-input', corpusPath(PHOTO));
    const id = await idOfUpload(page);

    // The hash stage fills it in after the upload's answer.
    const hashed = await waitForImage(ctx.url, id, (image) => image.thumbhash !== null, 60_000);
    const placeholder = thumbHashToDataURL(Buffer.from(hashed.thumbhash!, 'base64'));
    expect(placeholder).toMatch(/^data:image\/png;base64,/);
    // The preview and all 18 tiles, drawn from the resource's ThumbHash, while no rendition has loaded.
    await expect.poll(() => drawnPlaceholders(page), { timeout: 30_000 }).toEqual(Array(19).fill(placeholder));
    expect(await loadedRenditionCount(page)).toBe(0);
    expect(violations).toEqual([]);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'upload-page-placeholder.png'), fullPage: true });

    await page.unroute(isImage);
    for (const route of held) await route.continue().catch(() => undefined); // a request the page dropped meanwhile
    const image = await waitForImage(ctx.url, id, (image) => image.status === 'ready', 120_000);
    await expect.poll(() => loadedRenditionCount(page), { timeout: 60_000 }).toBe(18);
    // Real pixels replace the placeholder everywhere.
    await expect.poll(() => page.locator('img.thumbhash:not([hidden])').count(), { timeout: 30_000 }).toBe(0);

    const snippet = await page.inputValue('#snippet');
    await page.click('#copy-snippet');
    await expect.poll(() => page.textContent('#copy-snippet')).toBe('Copied!');
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(snippet);

    // The snippet as another site would use it: parsed and drawn by the browser.
    const embed = await context.newPage();
    await embed.setContent(`<!doctype html><body style="margin:0">${snippet}</body>`);
    const picture: PictureMarkup = await embed.locator('picture').evaluate((element) => ({
      sources: [...element.querySelectorAll('source')].map((source) => ({
        type: source.getAttribute('type'),
        srcset: source.getAttribute('srcset'),
        sizes: source.getAttribute('sizes'),
      })),
      img: Object.fromEntries([...element.querySelector('img').attributes].map((attribute) => [attribute.name, attribute.value])),
    }));
    expect(picture.sources.map((source) => source.type)).toEqual(['image/avif', 'image/webp']);
    expect(candidatesOf(picture.sources[0]!.srcset)).toEqual(expectedCandidates(image, 'avif'));
    expect(candidatesOf(picture.sources[1]!.srcset)).toEqual(expectedCandidates(image, 'webp'));
    expect(candidatesOf(picture.img.srcset!)).toEqual(expectedCandidates(image, 'jpg'));
    const sizes = '(max-width: 1024px) 100vw, 1024px';
    expect(picture.sources.map((source) => source.sizes)).toEqual([sizes, sizes]);
    expect(picture.img).toMatchObject({
      src: expectedCandidates(image, 'jpg').at(-1)![0],
      sizes,
      width: String(image.width),
      height: String(image.height),
      alt: TITLE,
      loading: 'lazy',
    });
    expect([image.width, image.height]).toEqual([3264, 2448]);

    // Chromium decodes AVIF and the slot is 1024 px wide at 1x: it must pick the largest AVIF, and draw it.
    await expect
      .poll(() => embed.locator('img').evaluate((img) => (img.complete && img.naturalWidth > 0 ? img.currentSrc : '')), { timeout: 30_000 })
      .toBe(image.renditions.find((rendition) => rendition.size === 'h' && rendition.format === 'avif')!.url);

    // Every URL in the snippet serves that rendition: its format, its width, no longer the original.
    for (const format of ['avif', 'webp', 'jpg']) {
      for (const [url, descriptor] of expectedCandidates(image, format)) {
        const { response, body } = await fetchBytes(url!);
        expect(response.status, url).toBe(200);
        expect(response.headers.get('x-rendition-status'), url).toBe('ready');
        const metadata = await sharp(body).metadata();
        expect(metadata.format, url).toBe(format === 'jpg' ? 'jpeg' : format === 'avif' ? 'heif' : format);
        expect(`${metadata.width}w`, url).toBe(descriptor);
      }
    }
    await context.close();
  });

  it('leaves AVIF out of the snippet for an animated GIF: only WebP renditions keep the animation', async () => {
    const page = await browser.newPage({ viewport: VIEWPORT });
    await page.goto(`${ctx.url}/`);
    await page.setInputFiles('#file-input', corpusPath('formats/rotating-squares.gif'));
    await idOfUpload(page);
    const snippet = await page.inputValue('#snippet');
    expect(snippet).toMatch(/^<picture>\n {2}<source type="image\/webp" srcset="[^"]+\/s\.webp 80w" [^\n]+\n {2}<img [^\n]+\n<\/picture>$/);
    expect(snippet).not.toContain('avif');
    await page.close();
  });
});
