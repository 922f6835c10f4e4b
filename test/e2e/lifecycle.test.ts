import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidImageError } from '@renditions/errors';
import type { ObjectStorage } from '@renditions/storage';
import { ADMIN, createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { getImage, upload, waitForImage, type UploadResponse } from '../support/http';
import { PrivateRedis } from '../support/redis-server';
import { storageWith } from '../support/storage-with';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

const AS_ADMIN = { Authorization: `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}` };

async function uploaded(ctx: TestContext, photo: string, fields?: Record<string, string>): Promise<UploadResponse> {
  const response = await upload(ctx.url, readCorpus(photo), { fields });
  expect(response.status).toBe(201);
  return (await response.json()) as UploadResponse;
}

/**
 * Every source read fails as undecodable content, so every stage that reads the original fails for good at once
 * (no retries) and the image settles `failed`.
 */
function breakableStorage(real: ObjectStorage) {
  return storageWith(real, {
    getBuffer: async () => {
      throw new InvalidImageError('simulated: the source cannot be decoded');
    },
  });
}

describe('a failed image is recoverable', () => {
  let ctx: TestContext;
  let real: ObjectStorage;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
    real = ctx.services.storage;
  });
  afterAll(async () => {
    if (ctx) ctx.services.storage = real;
    await ctx?.stop();
  });

  /** An upload whose processing failed for good; the worker is stopped and storage mended afterwards. */
  async function failedImage(photo: string): Promise<UploadResponse> {
    ctx.services.storage = breakableStorage(real);
    const worker = ctx.startWorker();
    try {
      const created = await uploaded(ctx, photo);
      const failed = await waitForImage(ctx.url, created.id);
      expect(failed.status).toBe('failed');
      expect(failed.renditions.every((rendition) => rendition.status === 'failed')).toBe(true);
      return created;
    } finally {
      await worker.stop();
      ctx.services.storage = real;
    }
  }

  it('runs its unfinished work again on POST /retry with the delete token, and settles ready', async () => {
    const created = await failedImage('photos/DSCN0010.jpg');
    const retryUrl = `${ctx.url}/api/v1/images/${created.id}/retry`;
    expect((await fetch(retryUrl, { method: 'POST' })).status).toBe(403);
    const worker = ctx.startWorker();
    try {
      const accepted = await fetch(retryUrl, { method: 'POST', headers: { 'X-Delete-Token': created.delete_token } });
      expect(accepted.status).toBe(202);
      expect(((await accepted.json()) as UploadResponse).status).toBe('processing');
      const ready = await waitForImage(ctx.url, created.id);
      expect(ready.status).toBe('ready');
      expect(ready.renditions.filter((rendition) => rendition.status === 'ready')).toHaveLength(18);
      // Nothing left to retry: a ready image is a conflict, not a new run.
      const again = await fetch(retryUrl, { method: 'POST', headers: AS_ADMIN });
      expect(again.status).toBe(409);
      expect(await again.json()).toMatchObject({ error: { code: 'conflict' } });
    } finally {
      await worker.stop();
    }
  });

  it('runs it again when the same bytes are uploaded, and both uploads settle ready', async () => {
    const created = await failedImage('photos/DSCN0029.jpg');
    const worker = ctx.startWorker();
    try {
      const second = await uploaded(ctx, 'photos/DSCN0029.jpg');
      expect(second.id).not.toBe(created.id);
      expect((await waitForImage(ctx.url, second.id)).status).toBe('ready');
      const first = await getImage(ctx.url, created.id);
      expect(first.status).toBe('ready');
      // The stored status agrees with the one derived from the stages and renditions.
      const [row] = await ctx.services.db.execute<{ status: string }>(
        sql`select a.status from assets a join images i on i.asset_id = a.id where i.id = ${created.id}`,
      );
      expect(row?.status).toBe('ready');
    } finally {
      await worker.stop();
    }
  });
});

describe('webhook events announced while Redis is down', () => {
  let redis: PrivateRedis;
  let ctx: TestContext;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    redis = await PrivateRedis.start();
    receiver = await startWebhookReceiver();
    ctx = await createTestContext({ env: { REDIS_URL: redis.url, WEBHOOK_ALLOW_PRIVATE: 'true' } });
  });
  afterAll(async () => {
    await ctx?.stop();
    await receiver?.close();
    await redis?.kill();
  });

  it('reach their receiver once Redis is back: a delete announced during the outage is kept in the outbox', async () => {
    const created = await uploaded(ctx, 'photos/Canon_40D.jpg', { callback_url: `${receiver.url}/hook` });
    expect((await waitForImage(ctx.url, created.id)).status).toBe('ready');
    await receiver.waitFor((requests) => requests.some((request) => request.body.type === 'image.ready'));

    await redis.kill();
    const deleted = await fetch(`${ctx.url}/api/v1/images/${created.id}`, {
      method: 'DELETE',
      headers: { 'X-Delete-Token': created.delete_token },
    });
    expect(deleted.status).toBe(204);
    expect((await fetch(`${ctx.url}/api/v1/images/${created.id}`)).status).toBe(410);
    const [outbox] = await ctx.services.db.execute<{ n: number }>(sql`select count(*)::int as n from webhook_outbox`);
    expect(outbox?.n).toBe(1);

    await redis.resume();
    const requests = await receiver.waitFor((all) => all.some((request) => request.body.type === 'image.deleted'), 30_000);
    const deletedEvent = requests.find((request) => request.body.type === 'image.deleted');
    expect(deletedEvent?.body.data.id).toBe(created.id);
    // The cleanup that could not be queued during the outage is queued by the reconciler: the bytes go.
    await expect.poll(() => firstKey(ctx), { timeout: 30_000 }).toBeUndefined();
  });
});

async function firstKey(ctx: TestContext): Promise<string | undefined> {
  for await (const object of ctx.services.storage.list('')) return object.key;
  return undefined;
}

describe('text fields PostgreSQL cannot store', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
  });
  afterAll(async () => ctx?.stop());

  it('refuses a NUL byte in title or callback_url with 400 and leaves nothing behind', async () => {
    for (const fields of [{ title: 'a\u0000b' }, { callback_url: 'https://example.com/\u0000' }] as Record<string, string>[]) {
      const response = await upload(ctx.url, readCorpus('photos/jolla.jpg'), { fields });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 'invalid_request' } });
    }
    expect(await firstKey(ctx)).toBeUndefined();
  });
});
