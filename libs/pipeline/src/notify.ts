import {
  findAsset,
  listLiveImagesOfAsset,
  listRenditions,
  type Asset,
  type Image,
  type Rendition,
} from '@renditions/db';
import { isWebhookEventType, newEventId, SETTLED_EVENT_TYPE, type ImageEvent, type ImageEventType } from '@renditions/events';
import { loadImage } from './images';
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
      await services.queues.enqueueWebhook(job, services.config.webhooks).catch((error: unknown) => {
        services.logger.error({ err: error, imageId: image.id, type }, 'could not queue a webhook delivery');
      });
    }
  }
}

/**
 * A new upload of bytes that had already settled gets its settling event from here: no flow runs for it. Reading
 * after the upload committed also covers an asset that settled while the upload was being recorded, before the
 * settle job could see the new image (the event may then come twice, under two event ids).
 */
export async function announceIfSettled(services: Services, imageId: string): Promise<void> {
  try {
    const { image, asset, renditions } = await loadImage(services, imageId);
    if (!asset.settledAt || asset.status === 'processing') return;
    await announceImage(services, image, asset, renditions, [SETTLED_EVENT_TYPE[asset.status]]);
  } catch (error) {
    services.logger.warn({ err: error, imageId }, 'could not announce an already settled upload');
  }
}
