import { sql } from 'drizzle-orm';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import exifr from 'exifr';
import sharp from 'sharp';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computePhash, hammingDistance, phashToHex, RENDITION_SIZES } from '@renditions/imaging';
import type { ImageResource } from '@renditions/pipeline';
import { startCdnPurgeServer, type CdnPurgeServer } from '../support/cdn-purge-server';
import { ADMIN, countUnfinishedJobs, createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { getImage, upload, waitForImage, type UploadResponse } from '../support/http';
import { metadataLeaks } from '../support/metadata-leaks';
import { startWebhookReceiver, type ReceivedRequest, type WebhookReceiver } from '../support/webhook-receiver';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const ADMIN_AUTH = `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`;
const ATTEMPTS = 3;
const TIMEOUT_MS = 500;

/** How the hook answers one image: `attempt` counts its requests for that image, from 1. */
type HookAnswer = (attempt: number, res: ServerResponse) => void;

const answerJson =
  (body: unknown, status = 200): HookAnswer =>
  (_attempt, res) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));

const sha256Of = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A real moderation hook on 127.0.0.1: answers each image (told apart by its sha256) as its test decided; allows the rest. */
async function startModerationHook() {
  const answers = new Map<string, HookAnswer>();
  const requestsFor = (sha256: string) => receiver.requests.filter((request) => request.body.data.sha256 === sha256);
  const receiver = await startWebhookReceiver((request, res) => {
    const sha256 = request.body.data.sha256;
    (answers.get(sha256) ?? answerJson({ verdict: 'allow' }))(requestsFor(sha256).length, res);
  });
  return {
    url: `${receiver.url}/moderate`,
    answer(bytes: Buffer, answer: HookAnswer): string {
      const sha256 = sha256Of(bytes);
      answers.set(sha256, answer);
      return sha256;
    },
    requestsFor,
    close: () => receiver.close(),
  };
}

async function uploaded(ctx: TestContext, bytes: Buffer, fields?: Record<string, string>): Promise<UploadResponse> {
  const response = await upload(ctx.url, bytes, { fields });
  expect(response.status).toBe(201);
  return (await response.json()) as UploadResponse;
}

function admin(ctx: TestContext, method: string, route: string, body?: unknown, authorization: string | null = ADMIN_AUTH) {
  const headers: Record<string, string> = {};
  if (authorization) headers.authorization = authorization;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${ctx.url}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** Until every job of the context (stages, renders, settle, webhook deliveries) has finished. */
async function waitForQueuesToDrain(ctx: TestContext, timeoutMs = 60_000): Promise<void> {
  const { redisUrl, queuePrefix } = ctx.services.config;
  const deadline = Date.now() + timeoutMs;
  while ((await countUnfinishedJobs(redisUrl, queuePrefix)) > 0) {
    if (Date.now() > deadline) throw new Error('queues did not drain in time');
    await sleep(300);
  }
}

/** Files of every generation of these bytes: keys name the generation, not the content. */
async function storedFilesOf(ctx: TestContext, sha256: string): Promise<string[]> {
  const rows = await ctx.services.db.execute<{ id: string }>(sql`select id from assets where sha256 = ${sha256}`);
  const ids = rows.map((row) => row.id);
  const entries = await readdir(ctx.storageDir!, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter((file) => ids.some((id) => file.includes(id)));
}

/** The original and its 18 renditions. */
const imageUrls = (image: ImageResource) => [image.url, ...image.renditions.map((rendition) => rendition.url)];

async function statusesOf(urls: string[]): Promise<number[]> {
  return Promise.all(
    urls.map(async (url) => {
      const response = await fetch(url);
      await response.arrayBuffer();
      return response.status;
    }),
  );
}

const recompressed = (bytes: Buffer) => sharp(bytes).jpeg({ quality: 55 }).toBuffer();

describe('moderation through an external hook (fail mode open)', () => {
  let ctx: TestContext;
  let hook: Awaited<ReturnType<typeof startModerationHook>>;
  let purges: CdnPurgeServer;
  let callbacks: WebhookReceiver;

  beforeAll(async () => {
    [hook, purges, callbacks] = await Promise.all([startModerationHook(), startCdnPurgeServer(), startWebhookReceiver()]);
    ctx = await createTestContext({
      env: {
        MODERATION_WEBHOOK_URL: hook.url,
        MODERATION_FAIL_MODE: 'open',
        MODERATION_TIMEOUT_MS: String(TIMEOUT_MS),
        MODERATION_ATTEMPTS: String(ATTEMPTS),
        WEBHOOK_ALLOW_PRIVATE: 'true',
        WEBHOOK_SECRET: SECRET,
        CDN_PURGE_URL: purges.url,
      },
    });
  });
  afterAll(async () => {
    await ctx?.stop();
    await Promise.all([hook?.close(), purges?.close(), callbacks?.close()]);
  });

  it('asks the hook with a signed request for the metadata-free original, and takes its allow', async () => {
    const photo = readCorpus('photos/Kodak_CX7530.jpg');
    expect(await exifr.gps(photo)).toBeTruthy();
    const sha256 = hook.answer(photo, answerJson({ verdict: 'allow', reason: 'looks fine' }));
    const created = await uploaded(ctx, photo);

    const image = await waitForImage(ctx.url, created.id);
    expect(image.status).toBe('ready');
    expect(image.stages.moderation).toBe('ready');
    expect(image.moderation).toEqual({ verdict: 'allow', reason: 'looks fine' });

    const [request] = hook.requestsFor(sha256);
    expect(hook.requestsFor(sha256)).toHaveLength(1);
    const headers = Object.fromEntries(Object.entries(request!.headers).map(([name, value]) => [name, String(value)]));
    expect(new Webhook(SECRET).verify(request!.rawBody, headers)).toEqual(request!.body);
    const body = request!.body as unknown as { type: string; timestamp: string; data: ImageResource & { source_url: string } };
    expect(body.type).toBe('image.moderation.requested');
    expect(Number.isNaN(Date.parse(body.timestamp))).toBe(false);
    expect(body.data).toMatchObject({ id: created.id, sha256, url: created.url, source_url: created.url });
    expect(body.data.renditions).toHaveLength(18);
    expect(body.data).not.toHaveProperty('delete_token');
    expect(request!.rawBody).not.toContain(created.delete_token);

    const source = await fetch(body.data.source_url);
    expect(source.status).toBe(200);
    const bytes = Buffer.from(await source.arrayBuffer());
    expect(await metadataLeaks(bytes)).toEqual([]);
  });

  it('takes a rejected image down everywhere: 451 on every URL, bytes removed, CDN purged, image.rejected sent once', async () => {
    const photo = readCorpus('photos/Canon_40D.jpg');
    const sha256 = hook.answer(photo, answerJson({ verdict: 'reject', reason: 'nudity' }));
    const created = await uploaded(ctx, photo, { callback_url: `${callbacks.url}/callback` });

    const image = await waitForImage(ctx.url, created.id);
    expect(image.status).toBe('rejected');
    expect(image.moderation).toEqual({ verdict: 'reject', reason: 'nudity' });
    // Renders still in flight when the verdict came must finish (and clean up after themselves) before looking.
    await waitForQueuesToDrain(ctx);

    const urls = imageUrls(image);
    expect(urls).toHaveLength(19);
    // The other names of the same bytes: the original's other spelling, Imgur's thumbnails and the negotiated URLs.
    const otherNames = [
      `${ctx.url}/i/${created.id}.jpeg`,
      ...RENDITION_SIZES.map((size) => `${ctx.url}/i/${created.id}${size}.jpg`),
      ...RENDITION_SIZES.map((size) => `${ctx.url}/i/${created.id}/${size}`),
    ];
    expect(await statusesOf([...urls, ...otherNames])).toEqual(Array(19 + 13).fill(451));
    expect((await getImage(ctx.url, created.id)).status).toBe('rejected');
    expect(await storedFilesOf(ctx, sha256)).toEqual([]);

    // Every name purged; each negotiated one once per format class the CDN caches it for (AVIF, WebP, JPEG). What
    // became ready before the verdict (the stripped original, renditions) was purged then too, its pre-ready copy:
    // those names may come more often, and no other name may come at all.
    const negotiated = otherNames.slice(7);
    const purged = [...urls, ...otherNames, ...negotiated, ...negotiated].map((url) => `GET /purge${new URL(url).pathname}`);
    const received = purges.requests.filter((request) => request.includes(created.id));
    const timesIn = (requests: string[], request: string) => requests.filter((candidate) => candidate === request).length;
    for (const request of new Set(purged)) expect(timesIn(received, request), request).toBeGreaterThanOrEqual(timesIn(purged, request));
    expect(new Set(received)).toEqual(new Set(purged));

    const events = (type: string) => callbacks.requests.filter((r: ReceivedRequest) => r.body.type === type && r.body.data.id === created.id);
    expect(events('image.rejected')).toHaveLength(1);
    expect(events('image.rejected')[0]!.body.data.status).toBe('rejected');
    expect(events('image.ready')).toHaveLength(0);

    const again = await uploaded(ctx, photo);
    expect(again.id).not.toBe(created.id);
    expect(again.status).toBe('rejected');
    expect(await statusesOf(imageUrls(again))).toEqual(Array(19).fill(451));
    expect(hook.requestsFor(sha256)).toHaveLength(1);
  });

  it('keeps an image in review served and flagged until an admin rejects it', async () => {
    const photo = readCorpus('formats/32-lens_data.jpeg');
    const sha256 = hook.answer(photo, answerJson({ verdict: 'review', reason: 'unsure' }));
    const created = await uploaded(ctx, photo);

    const image = await waitForImage(ctx.url, created.id);
    expect(image.status).toBe('ready');
    expect(image.moderation).toEqual({ verdict: 'review', reason: 'unsure' });
    expect(await statusesOf(imageUrls(image))).toEqual(Array(19).fill(200));

    const route = `/api/v1/admin/images/${created.id}/moderation`;
    expect((await admin(ctx, 'POST', route, { verdict: 'reject' }, null)).status).toBe(401);
    expect((await getImage(ctx.url, created.id)).moderation.verdict).toBe('review');

    const decided = await admin(ctx, 'POST', route, { verdict: 'reject', reason: 'confirmed by a human' });
    expect(decided.status).toBe(200);
    expect(await decided.json()).toMatchObject({
      id: created.id,
      status: 'rejected',
      moderation: { verdict: 'reject', reason: 'confirmed by a human' },
    });
    expect(await statusesOf(imageUrls(image))).toEqual(Array(19).fill(451));
    await waitForQueuesToDrain(ctx);
    expect(await storedFilesOf(ctx, sha256)).toEqual([]);

    const undo = await admin(ctx, 'POST', route, { verdict: 'allow' });
    expect(undo.status).toBe(409);
    expect(((await undo.json()) as { error: { code: string } }).error.code).toBe('conflict');
  });

  it('lets an admin allow an image in review', async () => {
    const photo = readCorpus('formats/testimgari.jpg');
    hook.answer(photo, answerJson({ verdict: 'review' }));
    const created = await uploaded(ctx, photo);
    await waitForImage(ctx.url, created.id);

    const route = `/api/v1/admin/images/${created.id}/moderation`;
    expect((await admin(ctx, 'POST', route, { verdict: 'maybe' })).status).toBe(400);
    const decided = await admin(ctx, 'POST', route, { verdict: 'allow', reason: 'checked' });
    expect(decided.status).toBe(200);
    expect(await decided.json()).toMatchObject({ status: 'ready', moderation: { verdict: 'allow', reason: 'checked' } });
    expect((await fetch(created.url)).status).toBe(200);
    expect((await admin(ctx, 'POST', '/api/v1/admin/images/nope123/moderation', { verdict: 'allow' })).status).toBe(404);
  });

  it('retries a failing hook with backoff, under one webhook-id, and takes the verdict it finally gives', async () => {
    const photo = readCorpus('formats/hopper.gif');
    const sha256 = hook.answer(photo, (attempt, res) =>
      attempt < ATTEMPTS ? answerJson({ error: 'overloaded' }, 500)(attempt, res) : answerJson({ verdict: 'allow', reason: 'third time' })(attempt, res),
    );
    const created = await uploaded(ctx, photo);

    const image = await waitForImage(ctx.url, created.id);
    expect(image.status).toBe('ready');
    expect(image.moderation).toEqual({ verdict: 'allow', reason: 'third time' });
    const requests = hook.requestsFor(sha256);
    expect(requests).toHaveLength(ATTEMPTS);
    expect(new Set(requests.map((request) => request.headers['webhook-id'])).size).toBe(1);
  });

  it('fails open when the hook hangs past the timeout on every attempt', async () => {
    const photo = readCorpus('formats/tbgn2c16.png');
    const sha256 = hook.answer(photo, () => undefined);
    const created = await uploaded(ctx, photo);

    const image = await waitForImage(ctx.url, created.id);
    expect(image.status).toBe('ready');
    expect(image.moderation.verdict).toBe('allow');
    expect(image.moderation.reason).toMatch(new RegExp(`no answer within ${TIMEOUT_MS} ms.*MODERATION_FAIL_MODE=open`));
    expect(hook.requestsFor(sha256)).toHaveLength(ATTEMPTS);
  });

  it('counts an answer that is not a verdict as a failed attempt', async () => {
    const photo = readCorpus('formats/with-alpha.png');
    const sha256 = hook.answer(photo, answerJson('{"verdict": allow'));
    const created = await uploaded(ctx, photo);

    const image = await waitForImage(ctx.url, created.id);
    expect(image.moderation.verdict).toBe('allow');
    expect(image.moderation.reason).toMatch(/Expected JSON from the moderation hook.*MODERATION_FAIL_MODE=open/);
    expect(hook.requestsFor(sha256)).toHaveLength(ATTEMPTS);
  });

  it('rejects near-duplicates of a blocked image without asking the hook', async () => {
    const photo = readCorpus('photos/DSCN0029.jpg');
    const nearDuplicate = await recompressed(photo);
    expect(hammingDistance(await computePhash(photo), await computePhash(nearDuplicate))).toBeLessThanOrEqual(6);
    const original = await uploaded(ctx, photo);
    const ready = await waitForImage(ctx.url, original.id);
    expect(ready.moderation.verdict).toBe('allow');

    const blocked = await admin(ctx, 'POST', '/api/v1/admin/blocklist', { image_id: original.id, reason: 'known bad' });
    expect(blocked.status).toBe(201);
    const entry = (await blocked.json()) as { id: string; phash: string; image_id: string; reason: string; created_at: string };
    expect(entry).toMatchObject({ phash: ready.phash, image_id: original.id, reason: 'known bad' });

    const duplicateSha = sha256Of(nearDuplicate);
    const duplicate = await uploaded(ctx, nearDuplicate);
    const rejected = await waitForImage(ctx.url, duplicate.id);
    expect(rejected.status).toBe('rejected');
    expect(rejected.moderation).toEqual({ verdict: 'reject', reason: 'blocklist' });
    expect(await statusesOf([duplicate.url])).toEqual([451]);
    expect(hook.requestsFor(duplicateSha)).toHaveLength(0);

    const listed = await admin(ctx, 'GET', '/api/v1/admin/blocklist');
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { items: unknown[] }).items).toContainEqual(entry);
    expect((await admin(ctx, 'DELETE', `/api/v1/admin/blocklist/${entry.id}`)).status).toBe(204);
    const after = (await (await admin(ctx, 'GET', '/api/v1/admin/blocklist')).json()) as { items: Array<{ id: string }> };
    expect(after.items.map((item) => item.id)).not.toContain(entry.id);
    expect((await admin(ctx, 'DELETE', `/api/v1/admin/blocklist/${entry.id}`)).status).toBe(404);
  });

  it('validates blocklist entries: a hash of 16 hex digits or an existing image, one of the two', async () => {
    const post = (body: unknown) => admin(ctx, 'POST', '/api/v1/admin/blocklist', body);
    for (const body of [{}, { phash: 'xyz' }, { phash: '0123456789abcdef', image_id: 'abc1234' }, { phash: '0123456789abcdef', extra: 1 }]) {
      const response = await post(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
    expect((await post({ image_id: 'nope123' })).status).toBe(404);
    const created = await post({ phash: 'FEDCBA9876543210' });
    expect(created.status).toBe(201);
    const entry = (await created.json()) as { id: string; phash: string; image_id: string | null; reason: string | null };
    expect(entry).toMatchObject({ phash: 'fedcba9876543210', image_id: null, reason: null });
    expect((await admin(ctx, 'DELETE', `/api/v1/admin/blocklist/${entry.id}`)).status).toBe(204);
  });

  it('answers 401 on every admin route without the admin credentials', async () => {
    const wrong = `Basic ${Buffer.from(`${ADMIN.user}:not-the-password`).toString('base64')}`;
    for (const authorization of [null, wrong]) {
      const responses = await Promise.all([
        admin(ctx, 'GET', '/api/v1/admin/blocklist', undefined, authorization),
        admin(ctx, 'POST', '/api/v1/admin/blocklist', { phash: '0123456789abcdef' }, authorization),
        admin(ctx, 'DELETE', '/api/v1/admin/blocklist/anything', undefined, authorization),
        admin(ctx, 'POST', '/api/v1/admin/images/abc1234/moderation', { verdict: 'allow' }, authorization),
      ]);
      for (const response of responses) {
        expect(response.status).toBe(401);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      }
    }
    const entries = (await (await admin(ctx, 'GET', '/api/v1/admin/blocklist')).json()) as { items: Array<{ phash: string }> };
    expect(entries.items.map((item) => item.phash)).not.toContain('0123456789abcdef');
  });
});

describe('moderation through an external hook (fail mode closed, no admin password)', () => {
  let ctx: TestContext;
  let hook: Awaited<ReturnType<typeof startModerationHook>>;

  beforeAll(async () => {
    hook = await startModerationHook();
    ctx = await createTestContext({
      env: {
        MODERATION_WEBHOOK_URL: hook.url,
        MODERATION_FAIL_MODE: 'closed',
        MODERATION_TIMEOUT_MS: String(TIMEOUT_MS),
        MODERATION_ATTEMPTS: String(ATTEMPTS),
        WEBHOOK_ALLOW_PRIVATE: 'true',
        WEBHOOK_SECRET: SECRET,
        ADMIN_PASSWORD: '',
      },
    });
  });
  afterAll(async () => {
    await ctx?.stop();
    await hook?.close();
  });

  it('rejects and takes down an image when the hook keeps failing', async () => {
    const photo = readCorpus('photos/Kodak_CX7530.jpg');
    const sha256 = hook.answer(photo, answerJson({ error: 'down' }, 503));
    const created = await uploaded(ctx, photo);

    const image = await waitForImage(ctx.url, created.id);
    expect(image.status).toBe('rejected');
    expect(image.moderation.verdict).toBe('reject');
    expect(image.moderation.reason).toMatch(/received 503.*MODERATION_FAIL_MODE=closed/);
    expect(hook.requestsFor(sha256)).toHaveLength(ATTEMPTS);
    expect(await statusesOf(imageUrls(image))).toEqual(Array(19).fill(451));
    await waitForQueuesToDrain(ctx);
    expect(await storedFilesOf(ctx, sha256)).toEqual([]);
  });

  it('answers 401 on admin routes whatever the credentials, with no admin password set', async () => {
    for (const credentials of [`${ADMIN.user}:`, `${ADMIN.user}:${ADMIN.password}`, ':']) {
      const authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
      expect((await admin(ctx, 'GET', '/api/v1/admin/blocklist', undefined, authorization)).status).toBe(401);
      expect((await admin(ctx, 'POST', '/api/v1/admin/images/abc1234/moderation', { verdict: 'allow' }, authorization)).status).toBe(401);
    }
  });
});

describe('moderation with the built-in provider', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => ctx?.stop());

  it('allows, except near-duplicates of a hash on the blocklist', async () => {
    const blockedPhoto = readCorpus('photos/DSCN0040.jpg');
    const nearDuplicate = await recompressed(blockedPhoto);
    expect(hammingDistance(await computePhash(blockedPhoto), await computePhash(nearDuplicate))).toBeLessThanOrEqual(6);
    const entry = await admin(ctx, 'POST', '/api/v1/admin/blocklist', {
      phash: phashToHex(await computePhash(blockedPhoto)),
      reason: 'seen before',
    });
    expect(entry.status).toBe(201);

    const duplicate = await uploaded(ctx, nearDuplicate);
    const rejected = await waitForImage(ctx.url, duplicate.id);
    expect(rejected.status).toBe('rejected');
    expect(rejected.moderation).toEqual({ verdict: 'reject', reason: 'blocklist' });
    expect(await statusesOf(imageUrls(rejected))).toEqual(Array(19).fill(451));

    const other = await uploaded(ctx, readCorpus('formats/concert.jpg'));
    const allowed = await waitForImage(ctx.url, other.id);
    expect(allowed.status).toBe('ready');
    expect(allowed.moderation).toEqual({ verdict: 'allow', reason: null });
  });
});
