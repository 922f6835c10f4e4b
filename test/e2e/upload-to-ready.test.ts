import exifr from 'exifr';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { getImage, upload, waitForImage, type UploadResponse } from '../support/http';

const MAGIC: Record<string, (bytes: Buffer) => boolean> = {
  jpg: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  webp: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
  avif: (b) => b.subarray(4, 12).toString('latin1') === 'ftypavif',
};

const CONTENT_TYPES: Record<string, string> = { jpg: 'image/jpeg', webp: 'image/webp', avif: 'image/avif' };

async function fetchBytes(url: string, init?: RequestInit) {
  const response = await fetch(url, init);
  return { response, body: Buffer.from(await response.arrayBuffer()) };
}

describe('upload to renditions, through HTTP, on the local driver', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    // No worker yet: the upload must answer without waiting for any processing.
    ctx = await createTestContext({ worker: false });
  });
  afterAll(async () => ctx?.stop());

  let created: UploadResponse;

  it('answers 201 with the image resource at once, every rendition pending', async () => {
    const photo = readCorpus('photos/DSCN0010.jpg');
    const response = await upload(ctx.url, photo, { filename: 'x.png', type: 'image/png', fields: { title: 'Arezzo' } });
    expect(response.status).toBe(201);
    created = (await response.json()) as UploadResponse;
    expect(created).toMatchObject({
      status: 'processing',
      mime: 'image/jpeg',
      width: 640,
      height: 480,
      bytes: photo.length,
      title: 'Arezzo',
      phash: null,
      stages: { strip: 'pending', phash: 'pending', moderation: 'pending' },
      moderation: { verdict: 'pending', reason: null },
    });
    expect(created.id).toMatch(/^[0-9A-Za-z]{7}$/);
    expect(created.url).toBe(`${ctx.url}/i/${created.id}.jpg`);
    expect(created.delete_token).toEqual(expect.any(String));
    expect(created.renditions).toHaveLength(18);
    expect(created.renditions.every((r) => r.status === 'pending')).toBe(true);
    expect(created.renditions.find((r) => r.size === 'm' && r.format === 'webp')).toMatchObject({
      width: 320,
      height: 240,
      url: `${ctx.url}/i/${created.id}/m.webp`,
    });
    expect(created.renditions.find((r) => r.size === 's')).toMatchObject({ width: 90, height: 90 });
    expect(created.renditions.find((r) => r.size === 'h')).toMatchObject({ width: 640, height: 480 });
  });

  it('never shows the delete token again', async () => {
    const image = await getImage(ctx.url, created.id);
    expect(image).not.toHaveProperty('delete_token');
  });

  it('serves the metadata-free original, briefly cached, from a rendition URL before processing', async () => {
    const { response, body } = await fetchBytes(`${ctx.url}/i/${created.id}/l.webp`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/jpeg');
    expect(response.headers.get('x-rendition-status')).toBe('pending');
    expect(response.headers.get('cache-control')).toMatch(/max-age=(\d|[1-5]\d|60)\b/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
    expect(MAGIC.jpg!(body)).toBe(true);
    expect(await exifr.parse(body, { gps: true })).toBeFalsy();
    const original = await fetchBytes(created.url);
    expect(original.response.status).toBe(200);
    expect(original.response.headers.get('cache-control')).toMatch(/max-age=(\d|[1-5]\d|60)\b/);
    expect(await exifr.gps(original.body).catch(() => undefined)).toBeFalsy();
  });

  it('makes every rendition ready with the right format, size and headers once a worker runs', async () => {
    ctx.startWorker();
    const ready = await waitForImage(ctx.url, created.id);
    expect(ready.status).toBe('ready');
    expect(ready.stages).toEqual({ strip: 'ready', phash: 'ready', moderation: 'ready' });
    expect(ready.moderation.verdict).toBe('allow');
    expect(ready.phash).toMatch(/^[0-9a-f]{16}$/);
    for (const rendition of ready.renditions) {
      expect(rendition.status).toBe('ready');
      const { response, body } = await fetchBytes(rendition.url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(CONTENT_TYPES[rendition.format]);
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('x-rendition-status')).toBe('ready');
      expect(response.headers.get('etag')).toMatch(/^"[^"]+"$/);
      expect(MAGIC[rendition.format]!(body)).toBe(true);
      const meta = await sharp(body).metadata();
      expect([meta.width, meta.height]).toEqual([rendition.width, rendition.height]);
      expect(meta.exif).toBeUndefined();
      expect(meta.xmp).toBeUndefined();
    }
    const original = await fetchBytes(ready.url);
    expect(original.response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await exifr.parse(original.body).catch(() => undefined)).toBeFalsy();
  });

  it('revalidates with a strong ETag, serves ranges and HEAD', async () => {
    const url = `${ctx.url}/i/${created.id}/m.jpg`;
    const first = await fetchBytes(url);
    const etag = first.response.headers.get('etag')!;
    const notModified = await fetch(url, { headers: { 'If-None-Match': etag } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('etag')).toBe(etag);

    const partial = await fetchBytes(url, { headers: { Range: 'bytes=10-19' } });
    expect(partial.response.status).toBe(206);
    expect(partial.response.headers.get('content-range')).toBe(`bytes 10-19/${first.body.length}`);
    expect(partial.body.equals(first.body.subarray(10, 20))).toBe(true);

    const unsatisfiable = await fetch(url, { headers: { Range: `bytes=${first.body.length + 10}-` } });
    expect(unsatisfiable.status).toBe(416);

    const head = await fetchBytes(url, { method: 'HEAD' });
    expect(head.response.status).toBe(200);
    expect(head.response.headers.get('content-length')).toBe(String(first.body.length));
    expect(head.body.length).toBe(0);
  });

  it('answers 404 for unknown ids, malformed or not, and unknown sizes, with a short cache', async () => {
    for (const path of ['/i/AAAAAAA.jpg', '/i/not-an-id!.jpg', `/i/${created.id}/x.webp`, `/i/${created.id}/m.gif`, `/i/${created.id}.png`]) {
      const response = await fetch(`${ctx.url}${path}`);
      expect(response.status, path).toBe(404);
      expect(response.headers.get('cache-control'), path).toMatch(/max-age=(\d|[1-5]\d|60)\b/);
    }
    for (const id of ['AAAAAAA', 'nope', '../../etc']) {
      const response = await fetch(`${ctx.url}/api/v1/images/${encodeURIComponent(id)}`);
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: 'not_found' } });
    }
  });

  it('deletes with the token: 403 without it, then 410 on the API, 404 on the CDN and no stored objects', async () => {
    const url = `${ctx.url}/api/v1/images/${created.id}`;
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(403);
    expect((await fetch(url, { method: 'DELETE', headers: { 'X-Delete-Token': 'wrong' } })).status).toBe(403);
    expect((await fetch(url, { method: 'DELETE', headers: { 'X-Delete-Token': created.delete_token } })).status).toBe(204);
    const gone = await fetch(url);
    expect(gone.status).toBe(410);
    expect(await gone.json()).toMatchObject({ error: { code: 'gone' } });
    expect((await fetch(created.url)).status).toBe(404);
    expect((await fetch(`${ctx.url}/i/${created.id}/m.webp`)).status).toBe(404);
    // The bytes go through durable cleanup work, right after the 204.
    const { readdir } = await import('node:fs/promises');
    await vi.waitFor(
      async () => {
        const left = await readdir(ctx.storageDir!, { recursive: true, withFileTypes: true });
        expect(left.filter((entry) => entry.isFile())).toEqual([]);
      },
      { timeout: 15_000, interval: 200 },
    );
  });
});
