import { boolean, index, integer, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** One row per delivery attempt of a webhook event: what the uploader and admins read to debug their receiver. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    imageId: text('image_id').notNull(),
    /** The Standard Webhooks `webhook-id`: the same across retries of one event. */
    eventId: text('event_id').notNull(),
    eventType: text('event_type').notNull(),
    url: text('url').notNull(),
    attempt: integer('attempt').notNull(),
    statusCode: integer('status_code'),
    latencyMs: integer('latency_ms'),
    error: text('error'),
    succeeded: boolean('succeeded').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [index('webhook_deliveries_image_idx').on(table.imageId, table.createdAt)],
);

export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;
export type NewWebhookDelivery = typeof webhookDeliveries.$inferInsert;

/**
 * Webhook events recorded in the same transaction as the status change they announce, and removed once the
 * webhook queue has them: an event announced while Redis is down is relayed later, never lost.
 */
export const webhookOutbox = pgTable(
  'webhook_outbox',
  {
    /** The Standard Webhooks `webhook-id`. */
    eventId: text('event_id').notNull(),
    imageId: text('image_id').notNull(),
    url: text('url').notNull(),
    eventType: text('event_type').notNull(),
    body: text('body').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.eventId, table.imageId] }), index('webhook_outbox_created_idx').on(table.createdAt)],
);

export type WebhookOutboxEntry = typeof webhookOutbox.$inferSelect;
