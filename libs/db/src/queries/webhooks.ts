import { desc, eq } from 'drizzle-orm';
import type { Executor } from '../client';
import { webhookDeliveries, type NewWebhookDelivery, type WebhookDelivery } from '../schema';

export async function recordWebhookDelivery(db: Executor, delivery: NewWebhookDelivery): Promise<void> {
  await db.insert(webhookDeliveries).values(delivery);
}

/** Newest first. */
export async function listWebhookDeliveries(db: Executor, imageId: string, limit = 200): Promise<WebhookDelivery[]> {
  return db
    .select()
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.imageId, imageId))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.attempt))
    .limit(limit);
}
