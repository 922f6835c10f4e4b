import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findAsset, findImage } from '@renditions/db';
import { RENDITION_FORMATS, RENDITION_SIZES } from '@renditions/imaging';
import type { RunningWorker } from '@renditions/worker';
import { ADMIN, createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { fetchBytes, upload, waitForImage, type UploadResponse } from '../support/http';
import { readCacheEntry } from '../support/nginx-cache-entry';
import { nginxInstalled, startNginxCdn, type NginxCdn } from '../support/nginx-cdn';
import { freePort } from '../support/ports';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const ONE_YEAR_S = 31_536_000;
/** The contract: an answer that may still change is cached for at most 60 s. */
const MAX_PRE_READY_AGE_S = 60;
const ADMIN_AUTH = `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`;

/** One Accept header per format class cdn.conf sorts clients into, as browsers of each class send them. */
const CLASS_ACCEPTS = {
  avif: 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8',
  webp: 'image/webp,image/png,image/*;q=0.8,*/*;q=0.5',
  jpeg: '*/*',
} as const;

/** A URL of an image as a client asks for it, and the key nginx caches its answer under (cdn.conf's proxy_cache_key). */
interface UrlForm {
  path: string;
  accept: string;
  key: string;
}

const plainForm = (path: string): UrlForm => ({ path, accept: CLASS_ACCEPTS.jpeg, key: path });

/**
 * Every URL form a CDN may cache an image under: the original and its `.jpeg` spelling, the 18 renditions, the
 * Imgur-style suffix names, and each size-only URL once per format class. Spelled out here rather than taken from
 * imageCachedCopies, so a form missing there fails this test.
 */
function everyForm(id: string): UrlForm[] {
  return [
    plainForm(`/i/${id}.jpg`),
    plainForm(`/i/${id}.jpeg`),
    ...RENDITION_SIZES.flatMap((size) => RENDITION_FORMATS.map((format) => plainForm(`/i/${id}/${size}.${format}`))),
    ...RENDITION_SIZES.map((size) => plainForm(`/i/${id}${size}.jpg`)),
    ...RENDITION_SIZES.flatMap((size) =>
      Object.entries(CLASS_ACCEPTS).map(([formatClass, accept]) => ({ path: `/i/${id}/${size}`, accept, key: `/i/${id}/${size}|${formatClass}` })),
    ),
  ];
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** The API with PUBLIC_BASE_URL and CDN_PURGE_URL pointing at Debian's nginx running deploy/nginx/cdn.conf. */
describe.skipIf(!nginxInstalled)('the API behind the nginx CDN (npm run cdn)', () => {
  let ctx: TestContext;
  let cdn: NginxCdn;
  let worker: RunningWorker | undefined;
  /** The image of the first test, ready once it has passed. */
  let processed: UploadResponse | undefined;

  // Started by the first test once it has looked at the answers before processing, or by any test run alone.
  const ensureWorker = () => (worker ??= ctx.startWorker());

  const viaCdn = (form: Pick<UrlForm, 'path' | 'accept'>) => fetchBytes(`${cdn.url}${form.path}`, { headers: { Accept: form.accept } });
  const fromOrigin = (form: Pick<UrlForm, 'path' | 'accept'>) => fetchBytes(`${ctx.url}${form.path}`, { headers: { Accept: form.accept } });

  async function uploaded(corpusFile: string): Promise<UploadResponse> {
    const response = await upload(ctx.url, readCorpus(corpusFile));
    expect(response.status).toBe(201);
    return (await response.json()) as UploadResponse;
  }

  /** Each form answered 200 and then from the cache: without a purge, nginx would keep serving it for a year. */
  async function warm(forms: UrlForm[]): Promise<void> {
    for (const form of forms) {
      expect((await viaCdn(form)).response.status, form.key).toBe(200);
      const again = await viaCdn(form);
      expect([again.response.status, again.response.headers.get('x-cache-status'), again.response.headers.get('cache-control')], form.key).toEqual([
        200,
        'HIT',
        IMMUTABLE,
      ]);
    }
  }

  const statusesOf = async (forms: UrlForm[]) => Promise.all(forms.map(async (form) => `${form.key} ${(await viaCdn(form)).response.status}`));

  beforeAll(async () => {
    const port = await freePort();
    // No worker yet: the first test looks at the answers before processing.
    ctx = await createTestContext({ worker: false, env: { CDN_PURGE_URL: `http://127.0.0.1:${port}` } });
    cdn = await startNginxCdn(ctx.url, { port });
    // The URLs the API hands out, and purges, are the CDN's.
    ctx.services.config.publicBaseUrl = cdn.url;
  });
  afterAll(async () => {
    await cdn?.stop();
    await ctx?.stop();
  });

  it('caches a pre-ready answer at most its max-age, and shows the rendition as soon as it is ready', async () => {
    const image = await uploaded('photos/DSCN0010.jpg');
    expect(image.url).toBe(`${cdn.url}/i/${image.id}.jpg`);
    const forms = [
      { ...plainForm(`/i/${image.id}/m.webp`), type: 'image/webp' },
      { ...plainForm(`/i/${image.id}m.jpg`), type: 'image/jpeg' },
      { path: `/i/${image.id}/m`, accept: CLASS_ACCEPTS.avif, key: `/i/${image.id}/m|avif`, type: 'image/avif' },
      { ...plainForm(`/i/${image.id}.jpg`), type: 'image/jpeg' },
    ];
    const preReadyUntil = new Map<string, Date>();
    for (const form of forms) {
      const first = await viaCdn(form);
      expect(first.response.status, form.key).toBe(200);
      expect(first.response.headers.get('x-cache-status'), form.key).toBe('MISS');
      const maxAge = Number(/max-age=(\d+)/.exec(first.response.headers.get('cache-control') ?? '')?.[1]);
      expect(maxAge, form.key).toBeLessThanOrEqual(MAX_PRE_READY_AGE_S);
      const again = await viaCdn(form);
      expect(again.response.headers.get('x-cache-status'), form.key).toBe('HIT');
      expect(again.body.equals(first.body), form.key).toBe(true);
      // How long nginx itself keeps it, which no header tells: no longer than the origin said.
      const entry = await readCacheEntry(cdn.cacheDir, form.key);
      expect(entry?.lifetimeSeconds, form.key).toBeGreaterThan(0);
      expect(entry!.lifetimeSeconds, form.key).toBeLessThanOrEqual(maxAge);
      preReadyUntil.set(form.key, entry!.validUntil);
    }

    ensureWorker();
    await waitForImage(ctx.url, image.id, (resource) => resource.status === 'ready', 120_000);
    for (const form of forms) {
      // The purge that followed each step lands just after the API shows it, hence a few tries.
      await eventually(async () => (await viaCdn(form)).response.headers.get('cache-control') === IMMUTABLE, `${form.key} final`, 5_000);
      // Replaced by a purge, not by expiry: nginx would have served the pre-ready copy until then.
      expect(Date.now(), form.key).toBeLessThan(preReadyUntil.get(form.key)!.getTime());
      const { response, body } = await viaCdn(form);
      expect(response.headers.get('content-type'), form.key).toBe(form.type);
      expect(body.equals((await fromOrigin(form)).body), form.key).toBe(true);
    }
    processed = image;
  });

  it('serves a ready rendition from the cache, immutable, on the second request', async () => {
    expect(processed, 'the image of the previous test').toBeDefined();
    for (const size of RENDITION_SIZES) {
      for (const format of RENDITION_FORMATS) {
        const form = plainForm(`/i/${processed!.id}/${size}.${format}`);
        expect((await viaCdn(form)).response.status, form.key).toBe(200);
        const { response } = await viaCdn(form);
        expect(response.headers.get('x-cache-status'), form.key).toBe('HIT');
        expect(response.headers.get('cache-control'), form.key).toBe(IMMUTABLE);
        expect(response.headers.get('x-rendition-status'), form.key).toBe('ready');
        expect((await readCacheEntry(cdn.cacheDir, form.key))?.lifetimeSeconds, form.key).toBe(ONE_YEAR_S);
      }
    }
  });

  it('purges every URL form of a taken-down image at once: 451 through the CDN', async () => {
    ensureWorker();
    const image = await uploaded('photos/DSCN0021.jpg');
    await waitForImage(ctx.url, image.id, (resource) => resource.status === 'ready', 120_000);
    const forms = everyForm(image.id);
    await warm(forms);

    const decided = await fetch(`${ctx.url}/api/v1/admin/images/${image.id}/moderation`, {
      method: 'POST',
      headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ verdict: 'reject', reason: 'taken down in a test' }),
    });
    expect(decided.status).toBe(200);
    const assetId = (await findImage(ctx.services.db, image.id))?.assetId;
    expect(assetId).toBeTruthy();
    await eventually(async () => (await findAsset(ctx.services.db, assetId!))?.takenDownAt != null, 'takedown cleanup');

    expect(await statusesOf(forms)).toEqual(forms.map((form) => `${form.key} 451`));
  });

  it('purges every URL form of a deleted image at once: 404 through the CDN', async () => {
    ensureWorker();
    const image = await uploaded('photos/DSCN0029.jpg');
    await waitForImage(ctx.url, image.id, (resource) => resource.status === 'ready', 120_000);
    const forms = everyForm(image.id);
    await warm(forms);

    const deleted = await fetch(`${ctx.url}/api/v1/images/${image.id}`, { method: 'DELETE', headers: { 'X-Delete-Token': image.delete_token } });
    expect(deleted.status).toBe(204);
    await eventually(async () => (await findImage(ctx.services.db, image.id))?.cleanedAt != null, 'delete cleanup');

    expect(await statusesOf(forms)).toEqual(forms.map((form) => `${form.key} 404`));
  });

  it('took every purge without a crash (a positional capture in the purge key crashes the worker)', async () => {
    expect(cdn.running()).toBe(true);
    expect(await cdn.errorLog()).not.toMatch(/signal|exited/);
  });
});
