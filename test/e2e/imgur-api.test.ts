import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import imgurV1 from 'imgur-v1';
import { ImgurClient } from 'imgur-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '@renditions/api';
import { createTestContext, type TestContext } from '../support/context';
import { corpusPath, readCorpus } from '../support/corpus';
import { fetchBytes } from '../support/http';
import { startImageOrigin, serveBytes, type ImageOrigin } from '../support/image-origin';

const PHOTO_PATH = corpusPath('photos/DSCN0010.jpg');
const PHOTO = readCorpus('photos/DSCN0010.jpg');
const PNG = readCorpus('formats/with-alpha.png');
const GIF = readCorpus('formats/rotating-squares.gif');

/** Imgur's image model as api.imgur.com answers an anonymous upload (deletehash aside). */
function imgurModel(fields: Record<string, unknown>) {
  return {
    id: expect.stringMatching(/^[0-9A-Za-z]{7}$/),
    datetime: expect.any(Number),
    views: 0,
    bandwidth: 0,
    vote: null,
    favorite: false,
    nsfw: null,
    section: null,
    account_url: null,
    account_id: 0,
    is_ad: false,
    in_gallery: false,
    tags: [],
    ...fields,
  };
}

/** The link serves the image the client uploaded: same format and pixel size, metadata stripped. */
async function expectLinkServes(link: string, mime: string, width: number, height: number): Promise<void> {
  const { response, body } = await fetchBytes(link);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe(mime);
  const served = await sharp(body).metadata();
  expect({ width: served.width, height: served.height }).toEqual({ width, height });
}

async function expectGone(baseUrl: string, id: string, link: string): Promise<void> {
  const response = await fetch(`${baseUrl}/3/image/${id}`);
  expect(response.status).toBe(404);
  expect(await response.json()).toEqual({
    data: { error: expect.any(String), request: `/3/image/${id}`, method: 'GET' },
    success: false,
    status: 404,
  });
  expect((await fetch(link)).status).toBe(404);
}

describe('Imgur API v3 with the published imgur 1.x client (setAPIUrl)', () => {
  let ctx: TestContext;
  let origin: ImageOrigin;
  beforeAll(async () => {
    // The url upload fetches from a server on loopback, which only WEBHOOK_ALLOW_PRIVATE lets through.
    ctx = await createTestContext({ worker: false, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
    origin = await startImageOrigin({ '/pictures/graph.png': serveBytes(PNG, 'image/png') });
    imgurV1.setAPIUrl(`${ctx.url}/3/`);
    imgurV1.setClientId('renditions-test');
  });
  afterAll(async () => {
    await origin?.stop();
    await ctx?.stop();
  });

  it('uploads a file, reads it back, and deletes it by its deletehash', async () => {
    const before = Math.floor(Date.now() / 1000);
    const uploaded = await imgurV1.uploadFile(PHOTO_PATH, undefined, 'Arezzo', 'A street, in 2008');
    expect(uploaded).toMatchObject(
      imgurModel({
        title: 'Arezzo',
        description: 'A street, in 2008',
        type: 'image/jpeg',
        animated: false,
        width: 640,
        height: 480,
        size: PHOTO.length,
        deletehash: expect.any(String),
        link: `${ctx.url}/i/${uploaded.id}.jpg`,
      }),
    );
    expect(uploaded.datetime).toBeGreaterThanOrEqual(before);
    await expectLinkServes(uploaded.link, 'image/jpeg', 640, 480);

    const read = await imgurV1.getInfo(uploaded.id);
    const { deletehash: _shownOnlyOnUpload, ...withoutDeletehash } = uploaded;
    expect(read).toEqual(withoutDeletehash);
    expect(read).not.toHaveProperty('deletehash');

    expect(await imgurV1.deleteImage(uploaded.deletehash!)).toBe(true);
    await expectGone(ctx.url, uploaded.id, uploaded.link);
    // The client itself sees the 404 as a failure, as it would on Imgur.
    await expect(imgurV1.getInfo(uploaded.id)).rejects.toThrow(/404/);
  });

  it('uploads base64 (a multipart text field, type=base64 sent after it)', async () => {
    const uploaded = await imgurV1.uploadBase64(PNG.toString('base64'), undefined, 'Alpha');
    expect(uploaded).toMatchObject({ title: 'Alpha', description: null, type: 'image/png', size: PNG.length });
    await expectLinkServes(uploaded.link, 'image/png', ...(await sizeOf(PNG)));
    expect(await imgurV1.deleteImage(uploaded.deletehash!)).toBe(true);
    await expectGone(ctx.url, uploaded.id, uploaded.link);
  });

  it('uploads from a URL, fetched by the server, and marks an animated GIF as animated', async () => {
    const uploaded = await imgurV1.uploadUrl(`${origin.url}/pictures/graph.png`, undefined, 'Fetched');
    expect(origin.requested).toContain('/pictures/graph.png');
    expect(uploaded).toMatchObject({ title: 'Fetched', type: 'image/png', size: PNG.length, animated: false });
    await expectLinkServes(uploaded.link, 'image/png', ...(await sizeOf(PNG)));

    const gif = await imgurV1.uploadBase64(GIF.toString('base64'));
    expect(gif).toMatchObject({ type: 'image/gif', animated: true });
  });
});

describe('Imgur API v3 without a client library: the three body encodings and the envelope', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
  });
  afterAll(async () => ctx?.stop());

  async function expectUploaded(response: Response, fields: Record<string, unknown>) {
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: { link: string; deletehash: string; id: string }; success: boolean; status: number };
    expect(body).toMatchObject({ data: imgurModel({ deletehash: expect.any(String), ...fields }), success: true, status: 200 });
    return body.data;
  }

  it('takes base64 as application/x-www-form-urlencoded, as curl and Python clients send it', async () => {
    const form = new URLSearchParams({ image: PHOTO.toString('base64'), type: 'base64', title: 'Form', description: 'é ✓' });
    const response = await fetch(`${ctx.url}/3/image`, { method: 'POST', body: form, headers: { Authorization: 'Client-ID form' } });
    const image = await expectUploaded(response, { title: 'Form', description: 'é ✓', type: 'image/jpeg', size: PHOTO.length });
    await expectLinkServes(image.link, 'image/jpeg', 640, 480);
  });

  it('takes a data: URI in JSON, and base64 without a type', async () => {
    const dataUri = await fetch(`${ctx.url}/3/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: `data:image/png;base64,${PNG.toString('base64')}`, title: 'JSON' }),
    });
    await expectUploaded(dataUri, { title: 'JSON', type: 'image/png', size: PNG.length });

    // Wrapped at 76 characters, as MIME encoders do.
    const wrapped = PHOTO.toString('base64').replace(/.{76}/g, '$&\r\n');
    const untyped = await fetch(`${ctx.url}/3/image`, { method: 'POST', body: new URLSearchParams({ image: wrapped }) });
    await expectUploaded(untyped, { type: 'image/jpeg', size: PHOTO.length });
  });

  it('takes a multipart file with type=file or type=stream, or a nameless binary part', async () => {
    for (const type of ['file', 'stream']) {
      const form = new FormData();
      form.append('type', type);
      form.append('image', new Blob([PHOTO], { type: 'image/jpeg' }), 'photo.jpg');
      await expectUploaded(await fetch(`${ctx.url}/3/image`, { method: 'POST', body: form }), { type: 'image/jpeg' });
    }
    // form-data (used by imgur 2.x) sends a Buffer as an application/octet-stream part without a filename.
    const boundary = 'nameless-part-boundary';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      PHOTO,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const response = await fetch(`${ctx.url}/3/image`, {
      method: 'POST',
      body,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    await expectUploaded(response, { type: 'image/jpeg', size: PHOTO.length });
  });

  it('answers an unknown id, a malformed id, an unknown deletehash and an unknown route with a 404 envelope', async () => {
    for (const [method, url] of [
      ['GET', '/3/image/AAAAAAA'],
      ['GET', '/3/image/%ff'],
      ['DELETE', '/3/image/not-a-deletehash'],
      ['GET', '/3/album/abc'],
    ] as const) {
      const response = await fetch(`${ctx.url}${url}`, { method });
      expect(response.status, `${method} ${url}`).toBe(404);
      expect(await response.json()).toEqual({
        data: { error: expect.any(String), request: url, method },
        success: false,
        status: 404,
      });
    }
  });

  it('lets any origin call it, as api.imgur.com does', async () => {
    const preflight = await fetch(`${ctx.url}/3/image`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://elsewhere.example', 'Access-Control-Request-Headers': 'authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
  });
});

/**
 * imgur 2.x's ImgurClient has no base-URL option: its axios instances are created with `https://api.imgur.com`
 * (a constant) and kept in private fields. Its one documented way to another host is RapidAPI's: with `rapidApiKey`
 * set, requests go to `https://${rapidApiHost}/3/...`. So it reaches a deployment served over HTTPS at the root of
 * a host, and this test serves the same app over TLS to show that it works end to end.
 */
describe('Imgur API v3 with the published imgur 2.x ImgurClient, through its rapidApiHost option over HTTPS', () => {
  let ctx: TestContext;
  let tls: https.Server;
  let client: ImgurClient;
  let certificateDir: string;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
    certificateDir = mkdtempSync(path.join(os.tmpdir(), 'imgur-tls-'));
    const keyPath = path.join(certificateDir, 'key.pem');
    const certPath = path.join(certificateDir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
      '-keyout', keyPath, '-out', certPath,
    ], { stdio: 'ignore' });
    const cert = readFileSync(certPath);
    tls = https.createServer({ key: readFileSync(keyPath), cert }, createApp(ctx.services));
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    // axios uses Node's global agent: trusting the test certificate there is all the client needs.
    https.globalAgent.options.ca = cert;
    const { port } = tls.address() as AddressInfo;
    client = new ImgurClient({ clientId: 'renditions-v2', rapidApiKey: 'unused', rapidApiHost: `localhost:${port}` });
  });
  afterAll(async () => {
    https.globalAgent.options.ca = undefined;
    tls?.closeAllConnections();
    await new Promise((resolve) => (tls ? tls.close(resolve) : resolve(undefined)));
    rmSync(certificateDir, { recursive: true, force: true });
    await ctx?.stop();
  });

  it('uploads a stream and base64, reads, and deletes', async () => {
    const streamed = await client.upload({ image: createReadStream(PHOTO_PATH), type: 'stream', title: 'Streamed' });
    expect(streamed).toMatchObject({ success: true, status: 200 });
    expect(streamed.data).toMatchObject({ title: 'Streamed', type: 'image/jpeg', width: 640, height: 480, size: PHOTO.length });
    await expectLinkServes(streamed.data.link, 'image/jpeg', 640, 480);

    const encoded = await client.upload({ image: PNG.toString('base64'), type: 'base64', description: 'v2' });
    expect(encoded).toMatchObject({ success: true, status: 200, data: { description: 'v2', type: 'image/png' } });

    const read = await client.getImage(streamed.data.id);
    expect(read).toMatchObject({ success: true, status: 200, data: { id: streamed.data.id, title: 'Streamed' } });

    const deleted = await client.deleteImage(streamed.data.deletehash!);
    expect(deleted).toMatchObject({ success: true, status: 200, data: true });
    const after = await client.getImage(streamed.data.id);
    expect(after).toMatchObject({ success: false, status: 404 });
    await expectGone(ctx.url, streamed.data.id, streamed.data.link);
  });
});

async function sizeOf(image: Buffer): Promise<[number, number]> {
  const { width, height } = await sharp(image).metadata();
  return [width!, height!];
}
