import { Command, type Cluster, type Redis } from 'ioredis';
import pTimeout from 'p-timeout';
import type { ImageEvent } from './types';

export type EventListener = (event: ImageEvent) => void;
export type Unsubscribe = () => void;

/**
 * Makes the bus's connections (a single server's or a cluster's): `producer` fails at once while Redis is down,
 * `subscriber` waits for it and renews its subscriptions once it is back.
 */
export type RedisConnector = (purpose: 'producer' | 'subscriber') => Redis | Cluster;

export class EventBusUnavailableError extends Error {
  override name = 'EventBusUnavailableError';
}

interface Channel {
  listeners: Set<EventListener>;
  /** Settles when Redis confirmed the SUBSCRIBE: every listener of the channel waits for it, not only the first. */
  active: Promise<void>;
}

/**
 * Image events over Redis pub/sub, so a live stream served by any API process sees what any worker published.
 * One subscriber connection per process, shared by every stream it serves.
 */
export class EventBus {
  private readonly publisher: Redis | Cluster;
  private subscriber?: Redis | Cluster;
  private readonly channels = new Map<string, Channel>();

  constructor(
    private readonly connect: RedisConnector,
    private readonly prefix: string,
    /** How long a subscription may wait for Redis before the caller is told it is unavailable. */
    private readonly subscribeTimeoutMs = 2000,
  ) {
    // Publishing is best effort while Redis is down: polling and webhooks (from the database) still work.
    this.publisher = connect('producer');
    this.publisher.on('error', () => undefined);
  }

  /** Under the queue prefix, whose hash tag puts every channel in the queues' Redis Cluster slot too. */
  private channelName(imageId: string): string {
    return `${this.prefix}:events:${imageId}`;
  }

  async publish(imageId: string, event: ImageEvent): Promise<void> {
    const channel = this.channelName(imageId);
    await this.publisherFor(channel).publish(channel, JSON.stringify(event));
  }

  /**
   * A cluster sends PUBLISH, which names no key, to any node, and each node forwards what it got over the cluster
   * bus on its own: two events of an image published through different nodes can reach a subscriber in either
   * order, and a stream that ends at image.ready would miss a rendition.ready that was overtaken. Every event of a
   * channel goes through the master of the channel's slot instead, so they arrive in the order they were sent.
   */
  private publisherFor(channel: string): Redis | Cluster {
    if (!this.publisher.isCluster) return this.publisher;
    const cluster = this.publisher as Cluster;
    // The slot a key of this name is in: what SPUBLISH, which does name its channel, would be routed by.
    const master = cluster.slots[new Command('spublish', [channel, '']).getSlot()]?.[0];
    return cluster.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === master) ?? cluster;
  }

  /**
   * Resolves once the subscription is active, so nothing published afterwards is missed. Returns the unsubscribe.
   * @throws {EventBusUnavailableError} Redis did not confirm the subscription in time
   */
  async subscribe(imageId: string, listener: EventListener): Promise<Unsubscribe> {
    const name = this.channelName(imageId);
    let channel = this.channels.get(name);
    if (!channel) {
      const active = this.ensureSubscriber()
        .subscribe(name)
        .then(() => undefined);
      channel = { listeners: new Set(), active };
      this.channels.set(name, channel);
    }
    const joined = channel;
    joined.listeners.add(listener);
    const unsubscribe = () => {
      joined.listeners.delete(listener);
      if (joined.listeners.size > 0 || this.channels.get(name) !== joined) return;
      this.channels.delete(name);
      // Not awaited: while Redis is away the command waits in the offline queue, and nobody should wait on it.
      this.subscriber?.unsubscribe(name).catch(() => undefined);
    };
    try {
      await pTimeout(joined.active, {
        milliseconds: this.subscribeTimeoutMs,
        message: new EventBusUnavailableError(`Redis did not confirm a subscription within ${this.subscribeTimeoutMs} ms`),
      });
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }


  private ensureSubscriber(): Redis | Cluster {
    if (!this.subscriber) {
      this.subscriber = this.connect('subscriber');
      this.subscriber.on('error', () => undefined);
      this.subscriber.on('message', (name: string, message: string) => this.dispatch(name, message));
    }
    return this.subscriber;
  }

  private dispatch(name: string, message: string): void {
    const channel = this.channels.get(name);
    if (!channel) return;
    let event: ImageEvent;
    try {
      event = JSON.parse(message) as ImageEvent;
    } catch {
      // Anything can PUBLISH on the channel; a malformed message must not take the process down.
      return;
    }
    for (const listener of channel.listeners) listener(event);
  }

  async close(): Promise<void> {
    this.publisher.disconnect();
    this.subscriber?.disconnect();
  }
}
