import { afterAll, describe, expect, it, vi } from 'vitest';
import { createRedisConnection } from '@renditions/queue';
import { throwawayQueuePrefix } from '../../../test/support/test-run';
import { EventBus, EventBusUnavailableError } from '../src/bus';
import type { ImageEvent } from '../src/types';

const REDIS_URL = 'redis://127.0.0.1:6379';
/** The product's own connections, as the wiring hands them to the bus. */
const connectTo = (redisUrl: string) => (purpose: 'producer' | 'subscriber') => createRedisConnection({ redisUrl }, purpose);
const prefix = throwawayQueuePrefix();
const publisher = new EventBus(connectTo(REDIS_URL), prefix);
const subscriber = new EventBus(connectTo(REDIS_URL), prefix);
afterAll(async () => {
  await Promise.all([publisher.close(), subscriber.close()]);
});

const event = (type: ImageEvent['type'], id: string): ImageEvent => ({ type, timestamp: new Date().toISOString(), data: { id } });

/** The publisher connects lazily and refuses commands until it has; retry the first publish until it lands. */
async function publish(imageId: string, published: ImageEvent): Promise<void> {
  await vi.waitFor(() => publisher.publish(imageId, published), { timeout: 5000 });
}

describe('EventBus', () => {
  it('resolves a subscription only once Redis confirmed it, for a listener joining one in flight too', async () => {
    await publish('warm-up', event('image.updated', 'warm-up'));
    // A bus that has not connected yet: its SUBSCRIBE waits for the connection while the publisher is ready.
    const fresh = new EventBus(connectTo(REDIS_URL), prefix);
    try {
      const first: ImageEvent[] = [];
      const joining: ImageEvent[] = [];
      const other: ImageEvent[] = [];
      const firstSubscribed = fresh.subscribe('img-a', (e) => first.push(e));
      await fresh.subscribe('img-a', (e) => joining.push(e));
      await publisher.publish('img-a', event('image.updated', 'img-a'));
      await firstSubscribed;
      await fresh.subscribe('img-b', (e) => other.push(e));
      await vi.waitFor(() => expect(joining.map((e) => e.type)).toEqual(['image.updated']));
      expect(first.map((e) => e.type)).toEqual(['image.updated']);
      expect(other).toEqual([]);
    } finally {
      await fresh.close();
    }
  });

  it('stops delivering to a listener once it unsubscribed, and keeps delivering to the others', async () => {
    const gone: ImageEvent[] = [];
    const staying: ImageEvent[] = [];
    const unsubscribe = await subscriber.subscribe('img-c', (e) => gone.push(e));
    await subscriber.subscribe('img-c', (e) => staying.push(e));
    unsubscribe();
    await publish('img-c', event('image.ready', 'img-c'));
    await vi.waitFor(() => expect(staying).toHaveLength(1));
    expect(gone).toEqual([]);
  });

  it('tells the caller at once when Redis does not confirm a subscription', async () => {
    const unreachable = new EventBus(connectTo('redis://127.0.0.1:1'), prefix, 300);
    try {
      await expect(unreachable.subscribe('img-d', () => undefined)).rejects.toBeInstanceOf(EventBusUnavailableError);
    } finally {
      await unreachable.close();
    }
  });
});
