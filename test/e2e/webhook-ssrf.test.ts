import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { newEventId } from '@renditions/events';
import type { DeliveryResource } from '@renditions/pipeline';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload, type UploadResponse } from '../support/http';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

/** Private targets are refused here: the default, WEBHOOK_ALLOW_PRIVATE unset. */
describe('webhooks never reach private addresses', () => {
  let ctx: TestContext;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    ctx = await createTestContext({ env: { WEBHOOK_ATTEMPTS: '5', WEBHOOK_BACKOFF_MS: '100' } });
  });
  afterAll(async () => {
    await ctx?.stop();
    await receiver?.close();
  });

  async function countImages(): Promise<number> {
    const rows = await ctx.services.db.execute<{ n: number }>('select count(*) as n from images' as never);
    return Number(rows[0]?.n);
  }

  it.each([
    'http://127.0.0.1:8080/hook',
    'http://[::1]/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.1/',
    'http://localhost/',
    'http://[::ffff:127.0.0.1]/',
    // The machine's own hostname resolves to loopback (or its private address): refused once resolved.
    `http://${os.hostname()}:8080/`,
    'ftp://example.com/hook',
  ])('refuses callback_url %s with 400 invalid_request and keeps nothing', async (callbackUrl) => {
    const response = await upload(ctx.url, readCorpus('photos/Canon_40D.jpg'), { fields: { callback_url: callbackUrl } });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toMatch(/callback_url/);
    expect(await countImages()).toBe(0);
    expect(receiver.requests).toHaveLength(0);
  });

  it('refuses, in the worker, a delivery to a name that resolves to loopback, without retrying it', async () => {
    const image = (await (await upload(ctx.url, readCorpus('photos/Canon_40D.jpg'))).json()) as UploadResponse;
    // As if DNS had changed since the upload was accepted: the machine's hostname resolves to a loopback address.
    const port = new URL(receiver.url).port;
    const job = {
      imageId: image.id,
      url: `http://${os.hostname()}:${port}/hook`,
      eventId: newEventId(),
      eventType: 'image.ready',
      body: JSON.stringify({ type: 'image.ready', timestamp: new Date().toISOString(), data: { id: image.id } }),
    };
    await ctx.services.queues.enqueueWebhook(job, ctx.services.config.webhooks);

    const webhooks = ctx.services.queues.queues.get('webhook')!;
    await vi.waitFor(async () => expect(await webhooks.getJobState(`${job.eventId}-${image.id}`)).toBe('failed'), {
      timeout: 30_000,
      interval: 200,
    });
    const failed = await webhooks.getJob(`${job.eventId}-${image.id}`);
    expect(failed!.attemptsMade).toBe(1);
    expect(receiver.requests).toHaveLength(0);

    const response = await fetch(`${ctx.url}/api/v1/images/${image.id}/deliveries`, {
      headers: { 'X-Delete-Token': image.delete_token },
    });
    const { items } = (await response.json()) as { items: DeliveryResource[] };
    expect(items).toEqual([
      expect.objectContaining({
        event_id: job.eventId,
        attempt: 1,
        status_code: null,
        succeeded: false,
        error: expect.stringMatching(/resolves to a non-public address/),
      }),
    ]);
  });
});
