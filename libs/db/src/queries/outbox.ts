import { and, asc, eq, lt } from 'drizzle-orm';
import type { Executor } from '../client';
import { webhookOutbox, type WebhookOutboxEntry } from '../schema';

export type NewWebhookOutboxEntry = Omit<WebhookOutboxEntry, 'createdAt'>;

export async function addToWebhookOutbox(db: Executor, entries: NewWebhookOutboxEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.insert(webhookOutbox).values(entries).onConflictDoNothing();
}

/** Handed to the webhook queue: the outbox forgets it. */
export async function removeFromWebhookOutbox(db: Executor, entry: Pick<WebhookOutboxEntry, 'eventId' | 'imageId'>): Promise<void> {
  await db
    .delete(webhookOutbox)
    .where(and(eq(webhookOutbox.eventId, entry.eventId), eq(webhookOutbox.imageId, entry.imageId)));
}

/** Events still waiting after a while: Redis was down when they were announced. */
export async function listStaleWebhookOutbox(db: Executor, staleBefore: Date, limit = 100): Promise<WebhookOutboxEntry[]> {
  return db
    .select()
    .from(webhookOutbox)
    .where(lt(webhookOutbox.createdAt, staleBefore))
    .orderBy(asc(webhookOutbox.createdAt))
    .limit(limit);
}
