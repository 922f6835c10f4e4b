import {
  addToWebhookOutbox,
  removeFromWebhookOutbox,
  type Executor,
  type Image,
  type NewWebhookOutboxEntry,
} from '@renditions/db';
import { isWebhookEventType, newEventId, type ImageEvent, type ImageEventType } from '@renditions/events';
import { presentImage, type AssetView } from './resource';
import type { Services } from './services';

/** What a committed change tells the world: live events for each upload, and the webhooks it recorded. */
export interface Announcement {
  live: Array<{ imageId: string; event: ImageEvent }>;
  webhooks: NewWebhookOutboxEntry[];
}

export const NOTHING_TO_ANNOUNCE: Announcement = { live: [], webhooks: [] };

/**
 * Builds the events of a change from the state inside its transaction, and records the webhook ones in the
 * outbox in that same transaction: a change that commits is announced to its webhooks at least once, even if
 * Redis is down now or the process dies before it hands them over.
 */
export async function recordAnnouncement(
  tx: Executor,
  services: Pick<Services, 'config'>,
  images: Image[],
  view: AssetView,
  types: readonly ImageEventType[],
): Promise<Announcement> {
  const announcement: Announcement = { live: [], webhooks: [] };
  for (const image of images) {
    const data = presentImage(services.config.publicBaseUrl, image, view);
    for (const type of types) {
      const event: ImageEvent = { type, timestamp: new Date().toISOString(), data };
      announcement.live.push({ imageId: image.id, event });
      if (image.callbackUrl && isWebhookEventType(type)) {
        announcement.webhooks.push({
          eventId: newEventId(),
          imageId: image.id,
          url: image.callbackUrl,
          eventType: type,
          body: JSON.stringify(event),
        });
      }
    }
  }
  await addToWebhookOutbox(tx, announcement.webhooks);
  return announcement;
}

/**
 * After the commit: live events on the bus (best effort: a stream re-reads the state when it reconnects) and the
 * recorded webhooks to their queue; an event the queue did not take stays in the outbox for the reconciler.
 */
export async function deliverAnnouncement(services: Services, announcement: Announcement): Promise<void> {
  for (const { imageId, event } of announcement.live) {
    await services.events.publish(imageId, event).catch((error: unknown) => {
      services.logger.warn({ err: error, imageId, type: event.type }, 'could not publish a live event');
    });
  }
  await Promise.all(announcement.webhooks.map((entry) => relayWebhook(services, entry)));
}

/** Hands one outbox entry to the webhook queue, then forgets it; on failure it stays for the next relay. */
export async function relayWebhook(services: Services, entry: NewWebhookOutboxEntry): Promise<boolean> {
  try {
    await services.queues.enqueueWebhook(entry, services.config.webhooks);
    await removeFromWebhookOutbox(services.db, entry);
    return true;
  } catch (error) {
    services.logger.warn({ err: error, imageId: entry.imageId, type: entry.eventType }, 'webhook event kept in the outbox for a later relay');
    return false;
  }
}
