import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload, type UploadResponse } from '../support/http';

/**
 * Streams opened at once on a process whose event subscriber is not connected yet: each SUBSCRIBE waits for the
 * connection, and none may be refused (ioredis's ready check once failed some with "Connection in subscriber mode").
 */
describe('live events opened at once on a fresh process', () => {
  let ctx: TestContext;
  let ids: string[];
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
    const photo = readCorpus('photos/DSCN0010.jpg');
    ids = [];
    for (let i = 0; i < 6; i++) {
      const created = (await (await upload(ctx.url, Buffer.concat([photo, Buffer.from([i])]))).json()) as UploadResponse;
      ids.push(created.id);
    }
  });
  afterAll(async () => {
    await ctx?.stop();
  });

  it('answers every stream 200', async () => {
    const statuses = await Promise.all(
      ids.map(async (id) => {
        const opened = new AbortController();
        const response = await fetch(`${ctx.url}/api/v1/images/${id}/events`, { signal: opened.signal });
        opened.abort();
        return response.status;
      }),
    );
    expect(statuses).toEqual(ids.map(() => 200));
  });
});
