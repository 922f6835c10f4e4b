import { sql } from 'drizzle-orm';
import { index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { assets } from './assets';

/** One row per upload: its public id, delete token and per-upload fields. Deleted rows stay as tombstones (410). */
export const images = pgTable(
  'images',
  {
    id: text('id').primaryKey(),
    assetId: text('asset_id').references(() => assets.id, { onDelete: 'set null' }),
    title: text('title'),
    /** Imgur API v3's per-upload description (the native API has only a title). */
    description: text('description'),
    callbackUrl: text('callback_url'),
    deleteTokenHash: text('delete_token_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date' }),
    /** Set once a deleted image's cleanup (CDN purge, and its asset's removal if it was the last) is done. */
    cleanedAt: timestamp('cleaned_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [
    index('images_asset_idx').on(table.assetId),
    // Imgur API v3 deletes by the token itself (its "deletehash").
    index('images_delete_token_hash_idx').on(table.deleteTokenHash),
    index('images_uncleaned_idx').on(table.deletedAt).where(sql`${table.deletedAt} is not null and ${table.cleanedAt} is null`),
  ],
);

export type Image = typeof images.$inferSelect;
export type NewImage = typeof images.$inferInsert;
