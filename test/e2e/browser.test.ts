import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '@renditions/pipeline';
import { launchChromium } from '../support/chromium';
import { ADMIN, createTestContext, type TestContext } from '../support/context';
import { corpusPath, readCorpus } from '../support/corpus';
import { getImage, upload } from '../support/http';

const SCREENSHOTS = path.resolve(import.meta.dirname, '../../test-results/screenshots');
const VIEWPORT = { width: 1280, height: 900 };

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** The rendition images that finished loading with real pixels, as the page shows them (not their placeholders). */
function loadedRenditionSources(page: Page): Promise<string[]> {
  return page
    .locator('#renditions img:not(.thumbhash)')
    .evaluateAll((images) => images.filter((image) => image.complete && image.naturalWidth > 0).map((image) => image.src));
}

async function allRenditionsLoaded(page: Page): Promise<void> {
  await expect.poll(async () => (await loadedRenditionSources(page)).length, { timeout: 120_000 }).toBe(18);
}

async function originalLink(page: Page, pattern: RegExp): Promise<string> {
  await expect.poll(() => page.inputValue('#original-link'), { timeout: 30_000 }).toMatch(pattern);
  return page.inputValue('#original-link');
}

// The browser classes the in-page script below builds; this project compiles without the DOM library.
declare class DataTransfer {
  readonly items: { add(file: File): unknown };
}
declare class DragEvent {
  constructor(type: 'drop', init: { dataTransfer: DataTransfer; bubbles: boolean; cancelable: boolean });
}
declare class ClipboardEvent {
  constructor(type: 'paste', init: { clipboardData: DataTransfer; bubbles: boolean; cancelable: boolean });
}

/** Drops or pastes a corpus file the way a browser hands it to the page: as a File in a DataTransfer. */
async function handOver(page: Page, how: 'drop' | 'paste', file: string, type: string): Promise<void> {
  // A drop lands on the drop zone; a paste goes wherever the focus is, here the title field.
  await page.locator(how === 'drop' ? '#drop-zone' : '#title-input').evaluate(
    (target, { how, base64, name, type }) => {
      const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], name, { type }));
      const init = { bubbles: true, cancelable: true };
      target.dispatchEvent(
        how === 'drop'
          ? new DragEvent('drop', { ...init, dataTransfer: transfer })
          : new ClipboardEvent('paste', { ...init, clipboardData: transfer }),
      );
    },
    { how, base64: readCorpus(file).toString('base64'), name: path.basename(file), type },
  );
}

describe('in a browser', () => {
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

  describe('the upload page', () => {
    it('uploads a picked photo, gives its link at once and shows all 18 renditions as they become ready', async () => {
      const page = await browser.newPage({ viewport: VIEWPORT });
      const streams: string[] = [];
      page.on('response', (response) => {
        if (response.url().endsWith('/events')) streams.push(response.headers()['content-type'] ?? '');
      });
      await page.goto(`${ctx.url}/`);
      await screenshot(page, 'upload-page-empty');

      await page.setInputFiles('#file-input', corpusPath('photos/DSCN0029.jpg'));
      const link = await originalLink(page, new RegExp(`^${ctx.url}/i/[0-9A-Za-z]{7}\\.jpg$`));
      await screenshot(page, 'upload-page-processing');

      await allRenditionsLoaded(page);
      const image = await getImage(ctx.url, link.split('/').pop()!.split('.')[0]!);
      expect((await loadedRenditionSources(page)).sort()).toEqual(image.renditions.map((rendition) => rendition.url).sort());
      await expect.poll(() => page.textContent('#live-status'), { timeout: 30_000 }).toBe('All renditions are ready.');
      expect(await page.textContent('#status')).toBe('Ready');
      // It followed the image live: the event stream answered, and the page never had to fall back to polling.
      expect(streams).toEqual([expect.stringMatching(/^text\/event-stream/)]);
      expect(await page.getAttribute('#live-status', 'data-mode')).toBe('live');
      // Loaded is not yet painted: decoding first keeps the large renditions out of the screenshot as blanks.
      await page.locator('#renditions img, #original-preview').evaluateAll((images) => Promise.all(images.map((image) => image.decode())));
      await screenshot(page, 'upload-page-ready');
      await page.setViewportSize({ width: 400, height: 860 });
      await screenshot(page, 'upload-page-ready-narrow');
      await page.close();
    });

    it('falls back to polling when the event stream breaks', async () => {
      const page = await browser.newPage({ viewport: VIEWPORT });
      await page.route('**/events', (route) => route.abort('connectionreset'));
      await page.goto(`${ctx.url}/`);
      await page.setInputFiles('#file-input', corpusPath('photos/DSCN0010.jpg'));
      await allRenditionsLoaded(page);
      expect(await page.getAttribute('#live-status', 'data-mode')).toBe('polling');
      expect(await page.textContent('#status')).toBe('Ready');
      await page.close();
    });

    it("shows the API's message when the file type is refused", async () => {
      const refusal = await upload(ctx.url, readCorpus('bad/SVG-alert.svg'), { filename: 'SVG-alert.svg', type: 'image/svg+xml' });
      expect(refusal.status).toBe(415);
      const { error } = (await refusal.json()) as { error: { message: string } };

      const page = await browser.newPage({ viewport: VIEWPORT });
      await page.goto(`${ctx.url}/`);
      await page.setInputFiles('#file-input', corpusPath('bad/SVG-alert.svg'));
      await page.waitForSelector('#message[data-kind="error"]');
      expect(await page.textContent('#message strong')).toBe('This file type is not supported.');
      expect(await page.textContent('#message .detail')).toBe(error.message);
      expect(await page.getAttribute('#message', 'role')).toBe('alert');
      expect(await page.isHidden('#result')).toBe(true);
      await screenshot(page, 'upload-page-error');
      await page.close();
    });

    it('takes a dropped file and a pasted image as well as a picked one', async () => {
      const page = await browser.newPage({ viewport: VIEWPORT });
      await page.goto(`${ctx.url}/`);
      await handOver(page, 'drop', 'formats/tbgn2c16.png', 'image/png');
      await originalLink(page, /\/i\/\w{7}\.png$/);

      await handOver(page, 'paste', 'formats/flower.webp', 'image/webp');
      await originalLink(page, /\/i\/\w{7}\.webp$/);
      expect(await page.locator('#renditions li').count()).toBe(18);
      await page.close();
    });
  });

  describe('Bull Board', () => {
    it('challenges a browser for credentials and refuses it without the right ones', async () => {
      // Headless Chromium cannot show the Basic auth prompt, so a challenge nobody answers fails the navigation.
      const anonymous = await browser.newContext();
      await expect((await anonymous.newPage()).goto(`${ctx.url}/admin/queues`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
      await anonymous.close();

      const wrong = await browser.newContext({ httpCredentials: { username: ADMIN.user, password: 'wrong' } });
      const response = await (await wrong.newPage()).goto(`${ctx.url}/admin/queues`);
      expect(response?.status()).toBe(401);
      expect(await response?.text()).not.toContain('Renditions queues');
      await wrong.close();
    });

    it('lists every queue for the admin', async () => {
      const context = await browser.newContext({ viewport: VIEWPORT, httpCredentials: { username: ADMIN.user, password: ADMIN.password } });
      const page = await context.newPage();
      // Not `load`: the board links a web font from the internet, which a test machine may not reach.
      const response = await page.goto(`${ctx.url}/admin/queues`, { waitUntil: 'domcontentloaded' });
      expect(response?.status()).toBe(200);
      for (const queue of QUEUE_NAMES) {
        await page.getByText(queue, { exact: true }).first().waitFor({ timeout: 30_000 });
      }
      await screenshot(page, 'bull-board');
      await context.close();
    });
  });
});
