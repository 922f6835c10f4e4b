import { Redis } from 'ioredis';
import { startServer } from '@renditions/api';
import { failUnfinishedRenditions, failUnfinishedStages, storeAssetStatus } from '@renditions/db';
import type { ImageEvent } from '@renditions/events';
import { loadImage, openImageEventStream, type ImageResource } from '@renditions/pipeline';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload, waitForImage, type UploadResponse } from '../support/http';
import { readEventStream, type ServerSentEvent } from '../support/sse';

interface EventBody {
  type: string;
  timestamp: string;
  data: ImageResource;
}

const body = (event: ServerSentEvent) => JSON.parse(event.data) as EventBody;

async function uploadPhoto(ctx: TestContext, photo: string): Promise<UploadResponse> {
  const response = await upload(ctx.url, readCorpus(photo));
  expect(response.status).toBe(201);
  return (await response.json()) as UploadResponse;
}

/** Opens the stream like a browser would; resolves once the headers are in, i.e. once the server has subscribed. */
function openStream(baseUrl: string, id: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${baseUrl}/api/v1/images/${id}/events`, {
    headers: { Accept: 'text/event-stream', ...headers },
    signal: AbortSignal.timeout(120_000),
  });
}

describe('live events over Server-Sent Events', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    // No worker yet: the first tests need images that stay `processing`.
    ctx = await createTestContext({ worker: false });
  });
  afterAll(async () => ctx?.stop());

  it('answers 404 as JSON for an unknown id, before any stream starts', async () => {
    const response = await openStream(ctx.url, 'zzzzzzz');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('ends the stream with image.deleted when the image is deleted, then answers 410', async () => {
    const image = await uploadPhoto(ctx, 'photos/Canon_40D.jpg');
    const response = await openStream(ctx.url, image.id);
    const reading = readEventStream(response);
    const deleted = await fetch(`${ctx.url}/api/v1/images/${image.id}`, {
      method: 'DELETE',
      headers: { 'X-Delete-Token': image.delete_token },
    });
    expect(deleted.status).toBe(204);
    const events = await reading;
    expect(events.map((event) => event.event)).toEqual(['image.updated', 'image.deleted']);
    expect(body(events[1]!).data.id).toBe(image.id);

    const gone = await openStream(ctx.url, image.id);
    expect(gone.status).toBe(410);
    expect(await gone.json()).toMatchObject({ error: { code: 'gone' } });
  });

  it('ends open streams when the server stops, so a graceful stop does not wait for images to settle', async () => {
    const image = await uploadPhoto(ctx, 'photos/Kodak_CX7530.jpg');
    const second = await startServer(ctx.services, { port: 0, host: '127.0.0.1' });
    const response = await openStream(second.url, image.id);
    const reading = readEventStream(response);
    await second.stop();
    const events = await reading;
    expect(events.map((event) => [event.event, body(event).data.status])).toEqual([['image.updated', 'processing']]);
  });

  it('drops the subscription when the client goes away', async () => {
    const image = await uploadPhoto(ctx, 'photos/Kodak_CX7530.jpg');
    const redis = new Redis(ctx.services.config.redisUrl);
    const channels = () => redis.pubsub('CHANNELS', `${ctx.services.config.queuePrefix}*`) as Promise<string[]>;
    try {
      const client = new AbortController();
      const response = await fetch(`${ctx.url}/api/v1/images/${image.id}/events`, { signal: client.signal });
      expect(response.status).toBe(200);
      expect(await channels()).toHaveLength(1);
      client.abort();
      await vi.waitFor(async () => expect(await channels()).toEqual([]), { timeout: 10_000, interval: 100 });
    } finally {
      redis.disconnect();
    }
  });

  it('settles the stream from the stored state when a pub/sub message was lost', async () => {
    const image = await uploadPhoto(ctx, 'photos/DSCN0021.jpg');
    const stream = await openImageEventStream(ctx.services, image.id, { recheckMs: 200 });
    const events: ImageEvent[] = [];
    const reading = (async () => {
      for await (const event of stream) events.push(event);
    })();
    // Settled behind the bus's back: nothing is published, only the database knows.
    const { asset } = await loadImage(ctx.services, image.id);
    await failUnfinishedRenditions(ctx.services.db, asset.id);
    await failUnfinishedStages(ctx.services.db, asset.id, 'settle');
    await storeAssetStatus(ctx.services.db, asset.id, 'failed', true);
    await reading;
    expect(events.map((event) => [event.type, (event.data as ImageResource).status])).toEqual([
      ['image.updated', 'processing'],
      ['image.updated', 'failed'],
      ['image.failed', 'failed'],
    ]);
  });

  let settled: UploadResponse;

  it('streams the snapshot, every change while processing, and ends by itself after image.ready', async () => {
    settled = await uploadPhoto(ctx, 'photos/Canon_40D.jpg');
    const response = await openStream(ctx.url, settled.id);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('cache-control')).toMatch(/no-cache/);
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    const reading = readEventStream(response);
    ctx.startWorker();
    const events = await reading;

    const types = events.map((event) => event.event);
    expect(types[0]).toBe('image.updated');
    expect(body(events[0]!).data.status).toBe('processing');
    expect(types.filter((type) => type === 'image.rendition.ready')).toHaveLength(18);
    expect(types.filter((type) => type === 'image.updated').length).toBeGreaterThan(1);
    expect(types.at(-1)).toBe('image.ready');
    expect(types.filter((type) => type === 'image.ready')).toHaveLength(1);
    expect(events.map((event) => event.id)).toEqual(events.map((_, index) => String(index + 1)));
    // The cheap formats come first: no AVIF is ready while a JPEG or WebP rendition is not.
    for (const event of events) {
      const renditions = body(event).data.renditions;
      if (renditions.some((r) => r.format === 'avif' && r.status === 'ready')) {
        expect(renditions.filter((r) => r.format !== 'avif').every((r) => r.status === 'ready')).toBe(true);
      }
    }
    for (const event of events) {
      const parsed = body(event);
      expect(Object.keys(parsed).sort()).toEqual(['data', 'timestamp', 'type']);
      expect(parsed.type).toBe(event.event);
      expect(parsed.data.id).toBe(settled.id);
      expect(parsed.data).not.toHaveProperty('delete_token');
      expect(event.data).not.toContain(settled.delete_token);
    }
    const last = body(events.at(-1)!).data;
    expect(last.status).toBe('ready');
    expect(last.renditions.every((rendition) => rendition.status === 'ready')).toBe(true);
  });

  it('gives a stream opened on a settled image the snapshot and the settling event, then ends it', async () => {
    const ready = await waitForImage(ctx.url, settled.id);
    const events = await readEventStream(await openStream(ctx.url, settled.id));
    expect(events.map((event) => event.event)).toEqual(['image.updated', 'image.ready']);
    expect(events.map((event) => body(event).data)).toEqual([ready, ready]);
  });

  it('answers 204 to an EventSource reconnecting to a settled image, which stops its reconnecting', async () => {
    const response = await openStream(ctx.url, settled.id, { 'Last-Event-ID': '3' });
    expect(response.status).toBe(204);
  });
});
