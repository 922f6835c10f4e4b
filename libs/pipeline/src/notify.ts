import {
  findAsset,
  listLiveImagesOfAsset,
  listRenditions,
  type Asset,
  type Image,
  type Rendition,
} from '@renditions/db';
import { isWebhookEventType, newEventId, type ImageEvent, type ImageEventType } from '@renditions/events';
import { presentImage } from './resource';
import type { Services } from './services';

/**
 * Tells every live upload of an asset what happened: on the live stream (Redis pub/sub) and, for webhook event
 * types, to its `callback_url` through the webhook queue. Best effort: a status change is already recorded in
 * PostgreSQL, where polling reads it, before anything is announced.
 */
export async function announceAsset(services: Services, sha256: string, types: ImageEventType[]): Promise<void> {
  const [asset, images, renditions] = await Promise.all([
    findAsset(services.db, sha256),
    listLiveImagesOfAsset(services.db, sha256),
    listRenditions(services.db, sha256),
  ]);
  if (!asset) return;
  await Promise.all(images.map((image) => announceImage(services, image, asset, renditions, types)));
}

export async function announceImage(
  services: Services,
  image: Image,
  asset: Asset,
  renditions: Rendition[],
  types: ImageEventType[],
): Promise<void> {
  const data = presentImage(services.config.publicBaseUrl, image, asset, renditions);
  for (const type of types) {
    const event: ImageEvent = { type, timestamp: new Date().toISOString(), data };
    await services.events.publish(image.id, event).catch((error: unknown) => {
      services.logger.warn({ err: error, imageId: image.id, type }, 'could not publish a live event');
    });
    if (image.callbackUrl && isWebhookEventType(type)) {
      const job = { imageId: image.id, url: image.callbackUrl, eventId: newEventId(), eventType: type, body: JSON.stringify(event) };
      await services.queues.enqueueWebhook(job, services.config.webhooks.attempts).catch((error: unknown) => {
        services.logger.error({ err: error, imageId: image.id, type }, 'could not queue a webhook delivery');
      });
    }
  }
}
