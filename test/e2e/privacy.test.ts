import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageResource } from '@renditions/pipeline';
import { createTestContext, type TestContext } from '../support/context';
import { CORPUS_DIR, readCorpus } from '../support/corpus';
import { fetchBytes, upload, waitForImage, type UploadResponse } from '../support/http';
import { identifyingStrings, metadataLeaks } from '../support/metadata-leaks';

/** Every corpus file MANIFEST.tsv lists with a GPS position. */
const WITH_GPS = readFileSync(path.join(CORPUS_DIR, 'MANIFEST.tsv'), 'utf8')
  .split('\n')
  .slice(1)
  .map((line) => line.split('\t'))
  .filter((columns) => /\bGPS \(/.test(columns[6] ?? ''))
  .map((columns) => columns[0]!);

/** HEIC is refused at upload (browsers cannot show it), so it never reaches a served byte. */
const REFUSED = WITH_GPS.filter((file) => file.endsWith('.HEIC'));

const CHECKED = [
  ...WITH_GPS.filter((file) => !REFUSED.includes(file)),
  'formats/with-alpha.png', // PNG eXIf chunk
  'formats/flower.webp', // WebP EXIF chunk
  'orientation/hopper_orientation_6.webp', // WebP EXIF chunk that also turns the pixels
  'photos/canon_hdr_NO.jpg', // EXIF + XMP + IPTC, Orientation 6: the re-encoding path
  'formats/Channel_digital_image_CMYK_color.jpg', // EXIF + XMP + IPTC (Photoshop) in a CMYK JPEG
  'formats/concert.jpg', // IPTC
  'formats/tiff_adobe_deflate.tif', // XMP in a TIFF tag
];

/** The original and all 18 rendition URLs of an image. */
function everyUrl(image: ImageResource): string[] {
  return [image.url, ...image.renditions.map((rendition) => rendition.url)];
}

async function expectClean(image: ImageResource, identifying: string[], label: string): Promise<void> {
  const urls = everyUrl(image);
  expect(urls).toHaveLength(19);
  for (const url of urls) {
    const { response, body } = await fetchBytes(url);
    expect(response.status, `${label} ${url}`).toBe(200);
    expect(await metadataLeaks(body, identifying), `${label} ${url}`).toEqual([]);
  }
}

describe('no served byte carries the uploader metadata', () => {
  let ctx: TestContext;
  const uploads = new Map<string, { created: UploadResponse; identifying: string[] }>();

  beforeAll(async () => {
    // No worker yet: every URL is answered by stripping on the fly.
    ctx = await createTestContext({ worker: false });
    for (const file of CHECKED) {
      const source = readCorpus(file);
      const response = await upload(ctx.url, source);
      expect(response.status, file).toBe(201);
      uploads.set(file, { created: (await response.json()) as UploadResponse, identifying: await identifyingStrings(source) });
    }
  }, 120_000);
  afterAll(async () => ctx?.stop());

  it('the list covers every GPS file of the corpus', () => {
    expect(WITH_GPS).toEqual(expect.arrayContaining([
      'photos/DSCN0010.jpg', 'photos/DSCN0021.jpg', 'photos/DSCN0029.jpg', 'photos/DSCN0040.jpg',
      'photos/HMD_Nokia_8.3_5G.jpg', 'photos/Kodak_CX7530.jpg', 'formats/avif-orientation-6.avif',
    ]));
  });

  it('the checker sees the metadata in the uploaded files themselves', async () => {
    for (const file of CHECKED) {
      expect((await metadataLeaks(readCorpus(file))).length, file).toBeGreaterThan(0);
    }
    expect(uploads.get('photos/DSCN0010.jpg')!.identifying).toEqual(['COOLPIX P6000']);
  });

  it.each(REFUSED)('%s is refused at upload (415)', async (file) => {
    const response = await upload(ctx.url, readCorpus(file));
    expect(response.status).toBe(415);
  });

  // Generous timeout: every request strips on the fly, ~3 s of CPU each for the 12 MP AVIF on an idle machine.
  it.each(CHECKED)('%s: all 19 URLs are clean before processing', async (file) => {
    const { created, identifying } = uploads.get(file)!;
    expect(created.status).toBe('processing');
    await expectClean(created, identifying, 'before processing');
  }, 600_000);

  describe('once processed', () => {
    const ready = new Map<string, ImageResource>();
    beforeAll(async () => {
      ctx.startWorker();
      for (const [file, { created }] of uploads) ready.set(file, await waitForImage(ctx.url, created.id, undefined, 300_000));
    }, 600_000);

    it.each(CHECKED)('%s: all 19 URLs are clean once ready', async (file) => {
      const image = ready.get(file)!;
      expect(image.status).toBe('ready');
      await expectClean(image, uploads.get(file)!.identifying, 'ready');
    }, 120_000);
  });
});
