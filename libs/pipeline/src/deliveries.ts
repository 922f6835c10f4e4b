import { z } from 'zod';
import { listWebhookDeliveries } from '@renditions/db';
import { assertOwnerAccess, findLiveImage, type OwnerAccess } from './images';
import type { Services } from './services';

/** One webhook delivery attempt as the API shows it. */
export const deliveryResourceSchema = z
  .object({
    event_id: z.string().meta({ description: 'The `webhook-id` header: the same across the attempts of one event' }),
    event_type: z.string(),
    url: z.string(),
    attempt: z.int().positive(),
    status_code: z.int().nullable().meta({ description: '`null` when no answer came (timeout, connection refused, refused address)' }),
    latency_ms: z.int().nonnegative().nullable(),
    error: z.string().nullable(),
    succeeded: z.boolean(),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'Delivery' });

export type DeliveryResource = z.infer<typeof deliveryResourceSchema>;

/**
 * The webhook delivery log of an image, newest first: one entry per attempt, so an uploader can see why their
 * receiver missed an event. Private to the uploader (delete token) and admins: it names the callback URL.
 * @throws {NotFoundError} unknown id
 * @throws {GoneError} deleted
 * @throws {ForbiddenError} without the delete token or admin rights
 */
export async function listImageDeliveries(
  services: Pick<Services, 'db'>,
  id: string,
  access: OwnerAccess,
): Promise<DeliveryResource[]> {
  const image = await findLiveImage(services, id);
  assertOwnerAccess(image, access, "read this image's webhook deliveries");
  const deliveries = await listWebhookDeliveries(services.db, id);
  return deliveries.map((delivery) => ({
    event_id: delivery.eventId,
    event_type: delivery.eventType,
    url: delivery.url,
    attempt: delivery.attempt,
    status_code: delivery.statusCode,
    latency_ms: delivery.latencyMs,
    error: delivery.error,
    succeeded: delivery.succeeded,
    created_at: delivery.createdAt.toISOString(),
  }));
}
