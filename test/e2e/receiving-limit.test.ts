import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UnavailableError } from '@renditions/errors';
import { MAX_UPLOADS_RECEIVING, uploadGate } from '../../apps/api/src/middleware/upload-gate';
import { createTestContext, expectNothingLeftBehind, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload } from '../support/http';
import { startImageOrigin, type ImageOrigin } from '../support/image-origin';

const PHOTO = readCorpus('photos/DSCN0021.jpg');

/**
 * MAX_UPLOADS_RECEIVING, in the API process itself: the test takes the slots the way a route does, as many as it
 * can get, so it sees how many the uploads under way hold.
 */
describe('uploads arriving at once in one API process', () => {
  let ctx: TestContext;
  let origin: ImageOrigin;
  // The origin holds its answers until the test lets them go, so a fetch stays under way.
  const held: ServerResponse[] = [];
  const answerHeld = () => {
    for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': PHOTO.length }).end(PHOTO);
  };

  beforeAll(async () => {
    // type=url fetches from a server on loopback, which only WEBHOOK_ALLOW_PRIVATE lets through.
    ctx = await createTestContext({ worker: false, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
    origin = await startImageOrigin({ '/held.jpg': (_req, res) => void held.push(res) });
  });
  afterAll(async () => {
    answerHeld();
    await origin?.stop();
    await ctx?.stop();
  });

  /** Every free slot, each with its release. */
  function takeFreeSlots(): Array<() => void> {
    const taken: Array<() => void> = [];
    try {
      while (taken.length <= MAX_UPLOADS_RECEIVING) taken.push(uploadGate(ctx.services).receiving.enter());
    } catch (error) {
      expect(error).toBeInstanceOf(UnavailableError);
    }
    return taken;
  }

  const imgurUpload = (body: Record<string, string>) =>
    fetch(`${ctx.url}/3/image`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('answers 503 with Retry-After on every upload route once all are taken, and leaves nothing behind', async () => {
    const slots = takeFreeSlots();
    expect(slots).toHaveLength(MAX_UPLOADS_RECEIVING);
    // The refusal closes the connection with the body unread: a body small enough to arrive with the head is read
    // by then, so the close does not reset the connection over it.
    const small = PHOTO.subarray(0, 512);
    try {
      const native = await upload(ctx.url, small);
      expect(native.status).toBe(503);
      expect(native.headers.get('retry-after')).toBe('5');
      expect(((await native.json()) as { error: { code: string } }).error.code).toBe('unavailable');

      const form = new FormData();
      form.set('image', new Blob([small], { type: 'image/jpeg' }), 'photo.jpg');
      const multipart = await fetch(`${ctx.url}/3/upload`, { method: 'POST', body: form });
      for (const imgur of [multipart, await imgurUpload({ image: small.toString('base64') })]) {
        expect(imgur.status).toBe(503);
        expect(imgur.headers.get('retry-after')).toBe('5');
        expect(await imgur.json()).toMatchObject({ success: false, status: 503 });
      }
    } finally {
      for (const release of slots) release();
    }
    await expectNothingLeftBehind(ctx);
    expect((await upload(ctx.url, PHOTO)).status).toBe(201);
  });

  it('counts an image being fetched for a type=url upload, until it is in', async () => {
    const uploading = imgurUpload({ image: `${origin.url}/held.jpg`, type: 'url' });
    await vi.waitFor(() => expect(held).toHaveLength(1));
    const slots = takeFreeSlots();
    for (const release of slots) release();
    expect(slots).toHaveLength(MAX_UPLOADS_RECEIVING - 1);

    answerHeld();
    const answer = await uploading;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ success: true, data: { type: 'image/jpeg', size: PHOTO.length } });
    const afterwards = takeFreeSlots();
    for (const release of afterwards) release();
    expect(afterwards).toHaveLength(MAX_UPLOADS_RECEIVING);
  });
});
