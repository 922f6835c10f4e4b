import { index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { assets } from './assets';

/** One row per upload: its public id, delete token and per-upload fields. Deleted rows stay as tombstones (410). */
export const images = pgTable(
  'images',
  {
    id: text('id').primaryKey(),
    assetSha256: text('asset_sha256').references(() => assets.sha256, { onDelete: 'set null' }),
    title: text('title'),
    callbackUrl: text('callback_url'),
    deleteTokenHash: text('delete_token_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [index('images_asset_idx').on(table.assetSha256)],
);

export type Image = typeof images.$inferSelect;
export type NewImage = typeof images.$inferInsert;
