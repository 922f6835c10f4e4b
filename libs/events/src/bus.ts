import { Redis } from 'ioredis';
import type { ImageEvent } from './types';

export type EventListener = (event: ImageEvent) => void;

/**
 * Image events over Redis pub/sub, so a live stream served by any API process sees what any worker published.
 * One subscriber connection per process, shared by every stream it serves.
 */
export class EventBus {
  private readonly publisher: Redis;
  private subscriber?: Redis;
  private readonly listeners = new Map<string, Set<EventListener>>();

  constructor(
    private readonly redisUrl: string,
    private readonly prefix: string,
  ) {
    // Publishing is best effort while Redis is down: polling and webhooks (from the database) still work.
    this.publisher = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
    this.publisher.on('error', () => undefined);
    this.publisher.connect().catch(() => undefined);
  }

  private channel(imageId: string): string {
    return `${this.prefix}:events:${imageId}`;
  }

  async publish(imageId: string, event: ImageEvent): Promise<void> {
    await this.publisher.publish(this.channel(imageId), JSON.stringify(event));
  }

  /** Resolves once the subscription is active, so nothing published afterwards is missed. Returns the unsubscribe. */
  async subscribe(imageId: string, listener: EventListener): Promise<() => Promise<void>> {
    const subscriber = this.ensureSubscriber();
    const channel = this.channel(imageId);
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      await subscriber.subscribe(channel);
    }
    set.add(listener);
    return async () => {
      const current = this.listeners.get(channel);
      current?.delete(listener);
      if (current && current.size === 0) {
        this.listeners.delete(channel);
        await subscriber.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  private ensureSubscriber(): Redis {
    if (!this.subscriber) {
      this.subscriber = new Redis(this.redisUrl, { maxRetriesPerRequest: null });
      this.subscriber.on('error', () => undefined);
      this.subscriber.on('message', (channel: string, message: string) => {
        const set = this.listeners.get(channel);
        if (!set) return;
        const event = JSON.parse(message) as ImageEvent;
        for (const listener of set) listener(event);
      });
    }
    return this.subscriber;
  }

  async close(): Promise<void> {
    this.publisher.disconnect();
    this.subscriber?.disconnect();
  }
}
