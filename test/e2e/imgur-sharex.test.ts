import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, expectNothingLeftBehind, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { fetchBytes } from '../support/http';

const SXCU_PATH = path.resolve(import.meta.dirname, '../../deploy/clients/sharex.sxcu');
/** The host the shipped file names; a user replaces it with their own, as this test does. */
const SHIPPED_ORIGIN = 'http://localhost:3000';
const SCREENSHOT = readCorpus('formats/with-alpha.png');

interface CustomUploader {
  Version: string;
  DestinationType: string;
  RequestMethod: string;
  RequestURL: string;
  Headers: Record<string, string>;
  Arguments?: Record<string, string>;
  Body: string;
  FileFormName: string;
  URL: string;
  ThumbnailURL: string;
  DeletionURL: string;
  ErrorMessage: string;
}

function loadUploader(origin: string): CustomUploader {
  return JSON.parse(readFileSync(SXCU_PATH, 'utf8').replaceAll(SHIPPED_ORIGIN, origin)) as CustomUploader;
}

/**
 * The request ShareX sends for a MultipartFormData custom uploader (ShareX.UploadersLib, Uploader.cs): a boundary of
 * 20 dashes and the hex clock ticks, each argument as a plain part, then the file part with its name and MIME type,
 * closed by CRLF and the final boundary; the file's headers from "Headers".
 */
function shareXRequest(uploader: CustomUploader, file: Buffer, fileName: string, mimeType: string): { url: string; init: RequestInit } {
  const boundary = `${'-'.repeat(20)}${(BigInt(Date.now()) * 10_000n + 621_355_968_000_000_000n).toString(16)}`;
  const argumentParts = Object.entries(uploader.Arguments ?? {}).map(
    ([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
  );
  const body = Buffer.concat([
    Buffer.from(argumentParts.join('')),
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${uploader.FileFormName}"; filename="${fileName}"\r\nContent-Type: ${mimeType}\r\n\r\n`,
    ),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return {
    url: uploader.RequestURL,
    init: {
      method: uploader.RequestMethod,
      headers: { ...uploader.Headers, 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'User-Agent': 'ShareX/17.0.0' },
      body,
    },
  };
}

/** ShareX's `{json:path}` syntax (dots for members, [n] for items) filled from the answer. */
function fillTemplate(template: string, answer: unknown): string {
  return template.replace(/\{json:([^}]+)\}/g, (_all, jsonPath: string) => {
    const value = jsonPath
      .split(/\.|\[(\d+)\]/)
      .filter(Boolean)
      .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], answer);
    return value === undefined ? '' : String(value);
  });
}

describe('the shipped ShareX custom uploader (deploy/clients/sharex.sxcu)', () => {
  let ctx: TestContext;
  let uploader: CustomUploader;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
    uploader = loadUploader(ctx.url);
  });
  afterAll(async () => ctx?.stop());

  it('is a ShareX 13+ image uploader sending the file as "image" with a Client-ID', () => {
    expect(uploader).toMatchObject({
      DestinationType: 'ImageUploader',
      RequestMethod: 'POST',
      RequestURL: `${ctx.url}/3/image`,
      Body: 'MultipartFormData',
      FileFormName: 'image',
      Headers: { Authorization: expect.stringMatching(/^Client-ID \S+$/) },
      URL: '{json:data.link}',
    });
    expect(Number(uploader.Version.split('.')[0])).toBeGreaterThanOrEqual(13);
  });

  it('shows Imgur\'s error through ErrorMessage when the upload is refused, keeping nothing', async () => {
    const { url, init } = shareXRequest(uploader, Buffer.from('not a picture\n'), 'notes.txt', 'text/plain');
    const response = await fetch(url, init);
    expect(response.status).toBe(415);
    expect(fillTemplate(uploader.ErrorMessage, await response.json())).toMatch(/JPEG|PNG|type/i);
    await expectNothingLeftBehind(ctx);
  });

  it('uploads a screenshot; URL and ThumbnailURL serve it; DeletionURL deletes it as a browser would', async () => {
    const { url, init } = shareXRequest(uploader, SCREENSHOT, 'ShareX_Dz4fQk2L.png', 'image/png');
    const response = await fetch(url, init);
    expect(response.status).toBe(200);
    const answer: unknown = await response.json();

    const link = fillTemplate(uploader.URL, answer);
    const image = await fetchBytes(link);
    expect(image.response.status).toBe(200);
    expect(image.response.headers.get('content-type')).toBe('image/png');
    const { width, height } = await sharp(SCREENSHOT).metadata();
    expect(await sharp(image.body).metadata()).toMatchObject({ width, height });
    const thumbnail = await fetchBytes(fillTemplate(uploader.ThumbnailURL, answer));
    expect(thumbnail.response.status).toBe(200);
    expect(thumbnail.response.headers.get('content-type')).toMatch(/^image\//);

    // ShareX opens the deletion URL in the browser: a page that asks, whose form POSTs back to the same URL.
    const deletionUrl = fillTemplate(uploader.DeletionURL, answer);
    expect(deletionUrl).toMatch(new RegExp(`^${ctx.url}/delete/[A-Za-z0-9_-]+$`));
    const page = await fetch(deletionUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toMatch(/<form method="post">/);
    expect((await fetch(link)).status).toBe(200);

    const confirmed = await fetch(deletionUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ctx.url },
      body: '',
    });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toMatch(/deleted/);
    expect((await fetch(link)).status).toBe(404);
    const id = fillTemplate('{json:data.id}', answer);
    expect((await fetch(`${ctx.url}/3/image/${id}`)).status).toBe(404);
  });
});
