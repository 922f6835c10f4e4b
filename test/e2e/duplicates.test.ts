import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countQueueJobs, createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload, waitForImage, type UploadResponse } from '../support/http';

describe('identical bytes uploaded twice', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => ctx?.stop());

  it('share storage and processing, get their own id and token, and delete independently', async () => {
    const photo = readCorpus('photos/DSCN0040.jpg');
    const first = (await (await upload(ctx.url, photo)).json()) as UploadResponse;
    await waitForImage(ctx.url, first.id);

    const secondResponse = await upload(ctx.url, photo);
    expect(secondResponse.status).toBe(201);
    const second = (await secondResponse.json()) as UploadResponse;
    expect(second.id).not.toBe(first.id);
    expect(second.delete_token).not.toBe(first.delete_token);
    expect(second.sha256).toBe(first.sha256);
    // Already processed: ready in the very answer, and no new job was enqueued.
    expect(second.status).toBe('ready');
    expect(second.renditions.every((r) => r.status === 'ready')).toBe(true);
    expect(await countQueueJobs(ctx.services.config.redisUrl, ctx.services.config.queuePrefix)).toBe(0);

    const deleted = await fetch(`${ctx.url}/api/v1/images/${first.id}`, {
      method: 'DELETE',
      headers: { 'X-Delete-Token': first.delete_token },
    });
    expect(deleted.status).toBe(204);
    for (const rendition of second.renditions) {
      const response = await fetch(rendition.url);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-rendition-status')).toBe('ready');
    }
    expect((await fetch(second.url)).status).toBe(200);
    expect((await fetch(first.url)).status).toBe(404);
  });
});
