import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DeliveryResource } from '@renditions/pipeline';
import { ADMIN, createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload, waitForImage, type UploadResponse } from '../support/http';
import {
  startWebhookReceiver,
  uniqueEvents,
  type ReceivedRequest,
  type WebhookReceiver,
} from '../support/webhook-receiver';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const TIMEOUT_MS = 500;

/** What a receiver does with every request: verify the signature as the Standard Webhooks library does. */
function verify(request: ReceivedRequest): unknown {
  return new Webhook(SECRET).verify(request.rawBody, request.headers as Record<string, string>);
}

const ofImage = (id: string, type?: string) => (request: ReceivedRequest) =>
  request.body.data.id === id && (type === undefined || request.body.type === type);

async function uploadWithCallback(ctx: TestContext, photo: string, callbackUrl: string): Promise<UploadResponse> {
  const response = await upload(ctx.url, readCorpus(photo), { fields: { callback_url: callbackUrl } });
  expect(response.status).toBe(201);
  return (await response.json()) as UploadResponse;
}

async function readDeliveries(ctx: TestContext, id: string, headers: Record<string, string>) {
  const response = await fetch(`${ctx.url}/api/v1/images/${id}/deliveries`, { headers });
  return { response, body: (await response.json()) as { items: DeliveryResource[] } };
}

describe('webhooks to the callback_url', () => {
  let ctx: TestContext;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    ctx = await createTestContext({
      env: {
        WEBHOOK_ALLOW_PRIVATE: 'true',
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
        WEBHOOK_ATTEMPTS: '5',
        WEBHOOK_BACKOFF_MS: '200',
      },
    });
  });
  afterAll(async () => {
    await ctx?.stop();
    await receiver?.close();
  });

  let first: UploadResponse;

  it('sends one image.rendition.ready per rendition and one image.ready, each signed per Standard Webhooks', async () => {
    first = await uploadWithCallback(ctx, 'photos/Canon_40D.jpg', `${receiver.url}/hooks/images`);
    const requests = await receiver.waitFor((all) => all.some(ofImage(first.id, 'image.ready')));
    const ready = await waitForImage(ctx.url, first.id);
    await receiver.waitFor((all) => uniqueEvents(all.filter(ofImage(first.id, 'image.rendition.ready'))).length === 18);

    const events = uniqueEvents(requests.filter(ofImage(first.id)));
    expect(events.filter((r) => r.body.type === 'image.rendition.ready')).toHaveLength(18);
    expect(events.filter((r) => r.body.type === 'image.ready')).toHaveLength(1);
    for (const request of requests.filter(ofImage(first.id))) {
      expect(request.path).toBe('/hooks/images');
      expect(request.headers['webhook-id']).toMatch(/^msg_/);
      expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
      expect(verify(request)).toEqual(request.body);
      expect(Object.keys(request.body).sort()).toEqual(['data', 'timestamp', 'type']);
      expect(new Date(request.body.timestamp).toISOString()).toBe(request.body.timestamp);
      expect(request.body.data).toMatchObject({ id: first.id, sha256: first.sha256, url: first.url });
      expect(request.body.data).not.toHaveProperty('delete_token');
      expect(request.rawBody).not.toContain(first.delete_token);
    }
    const readyEvent = events.find((r) => r.body.type === 'image.ready')!;
    expect(readyEvent.body.data).toEqual(ready);
    // Each rendition announces itself: between them, the 18 events saw every rendition become ready.
    const announced = new Set(
      events
        .filter((r) => r.body.type === 'image.rendition.ready')
        .flatMap((r) => r.body.data.renditions.filter((x) => x.status === 'ready').map((x) => `${x.size}.${x.format}`)),
    );
    expect(announced.size).toBe(18);
  });

  it('sends image.ready at once to a new upload of bytes that have already settled', async () => {
    const again = await uploadWithCallback(ctx, 'photos/Canon_40D.jpg', `${receiver.url}/hooks/again`);
    expect(again.status).toBe('ready');
    const requests = await receiver.waitFor((all) => all.some(ofImage(again.id, 'image.ready')));
    const event = requests.find(ofImage(again.id, 'image.ready'))!;
    expect(verify(event)).toMatchObject({ type: 'image.ready', data: { id: again.id, status: 'ready' } });
    expect(requests.filter(ofImage(again.id, 'image.rendition.ready'))).toEqual([]);
  });

  it('shows the delivery log to the uploader and admins only', async () => {
    // The worker records an attempt once the answer is in, a moment after the receiver saw the request.
    const owner = await vi.waitFor(async () => {
      const log = await readDeliveries(ctx, first.id, { 'X-Delete-Token': first.delete_token });
      expect(new Set(log.body.items.filter((item) => item.succeeded).map((item) => item.event_id)).size).toBe(19);
      return log;
    }, { timeout: 30_000, interval: 200 });
    expect(owner.response.status).toBe(200);
    expect(owner.response.headers.get('cache-control')).toBe('no-store');
    const succeeded = owner.body.items.filter((item) => item.succeeded);
    expect(new Set(succeeded.map((item) => item.event_type))).toEqual(new Set(['image.rendition.ready', 'image.ready']));
    expect(succeeded[0]).toEqual({
      event_id: expect.stringMatching(/^msg_/),
      event_type: expect.any(String),
      url: `${receiver.url}/hooks/images`,
      attempt: expect.any(Number),
      status_code: 200,
      latency_ms: expect.any(Number),
      error: null,
      succeeded: true,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });

    const admin = await readDeliveries(ctx, first.id, {
      Authorization: `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`,
    });
    expect(admin.response.status).toBe(200);
    expect(admin.body.items).toHaveLength(owner.body.items.length);

    const refused: Record<string, string>[] = [{}, { 'X-Delete-Token': 'not-the-token' }, { Authorization: 'Basic YWRtaW46d3Jvbmc=' }];
    for (const headers of refused) {
      const denied = await fetch(`${ctx.url}/api/v1/images/${first.id}/deliveries`, { headers });
      expect(denied.status).toBe(403);
      expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    }
    const unknown = await fetch(`${ctx.url}/api/v1/images/zzzzzzz/deliveries`, { headers: { 'X-Delete-Token': 'x' } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('sends image.deleted when the image is deleted, and the log is gone with it', async () => {
    const deleted = await fetch(`${ctx.url}/api/v1/images/${first.id}`, {
      method: 'DELETE',
      headers: { 'X-Delete-Token': first.delete_token },
    });
    expect(deleted.status).toBe(204);
    const requests = await receiver.waitFor((all) => all.some(ofImage(first.id, 'image.deleted')));
    const event = requests.find(ofImage(first.id, 'image.deleted'))!;
    expect(verify(event)).toMatchObject({ type: 'image.deleted', data: { id: first.id } });
    expect(event.body.data).not.toHaveProperty('delete_token');

    const log = await readDeliveries(ctx, first.id, { 'X-Delete-Token': first.delete_token });
    expect(log.response.status).toBe(410);
    expect(log.body).toMatchObject({ error: { code: 'gone' } });
  });
  it('retries a failed delivery with the same webhook-id, never following a redirect, and logs every attempt', async () => {
    // image.ready gets, in turn: a redirect, a 500, no answer at all, then a 200. Everything else gets a 200.
    const attemptsOf = new Map<string, number>();
    const flaky = await startWebhookReceiver((request, res) => {
      if (request.body.type !== 'image.ready') return void res.writeHead(200).end();
      const id = String(request.headers['webhook-id']);
      const attempt = (attemptsOf.get(id) ?? 0) + 1;
      attemptsOf.set(id, attempt);
      if (attempt === 1) return void res.writeHead(302, { location: `${flaky.url}/redirected` }).end();
      if (attempt === 2) return void res.writeHead(500).end('boom');
      if (attempt === 3) return;
      res.writeHead(200).end();
    });
    try {
      const image = await uploadWithCallback(ctx, 'photos/Kodak_CX7530.jpg', `${flaky.url}/hooks/flaky`);
      const requests = await flaky.waitFor((all) => all.filter(ofImage(image.id, 'image.ready')).length === 4);
      const attempts = requests.filter(ofImage(image.id, 'image.ready'));
      expect(new Set(attempts.map((r) => r.headers['webhook-id'])).size).toBe(1);
      for (const attempt of attempts) expect(verify(attempt)).toMatchObject({ type: 'image.ready', data: { id: image.id } });
      expect(requests.map((r) => r.path)).not.toContain('/redirected');

      const log = await vi.waitFor(async () => {
        const { body } = await readDeliveries(ctx, image.id, { 'X-Delete-Token': image.delete_token });
        const ready = body.items.filter((item) => item.event_type === 'image.ready');
        expect(ready.some((item) => item.succeeded)).toBe(true);
        return ready;
      }, { timeout: 30_000, interval: 200 });
      const chronological = [...log].sort((a, b) => a.attempt - b.attempt);
      expect(chronological.map((item) => [item.attempt, item.status_code, item.succeeded])).toEqual([
        [1, 302, false],
        [2, 500, false],
        [3, null, false],
        [4, 200, true],
      ]);
      expect(new Set(log.map((item) => item.event_id))).toEqual(new Set([attempts[0]!.headers['webhook-id']]));
      expect(chronological[2]!.error).toBe(`no answer within ${TIMEOUT_MS} ms`);
      expect(chronological[2]!.latency_ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      for (const item of log) expect(item.latency_ms).toEqual(expect.any(Number));
      // Newest first, as a log is read.
      expect(log.map((item) => item.attempt)).toEqual([4, 3, 2, 1]);
    } finally {
      await flaky.close();
    }
  });
});
