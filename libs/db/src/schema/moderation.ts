import { bigint, index, integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';

/** Perceptual hashes whose near-duplicates (distance <= 6) the moderation stage rejects without asking the hook. */
export const blockedHashes = pgTable(
  'blocked_hashes',
  {
    id: text('id').primaryKey(),
    phash: bigint('phash', { mode: 'bigint' }).notNull(),
    phashQ0: integer('phash_q0').generatedAlwaysAs(sql`((phash >> 48) & 65535)::int`),
    phashQ1: integer('phash_q1').generatedAlwaysAs(sql`((phash >> 32) & 65535)::int`),
    phashQ2: integer('phash_q2').generatedAlwaysAs(sql`((phash >> 16) & 65535)::int`),
    phashQ3: integer('phash_q3').generatedAlwaysAs(sql`(phash & 65535)::int`),
    /** The image the hash was taken from, when it was blocked by image id. */
    sourceImageId: text('source_image_id'),
    reason: text('reason'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    // Covering, like the assets' quarter indexes: a blocklist of imported hash lists can be large, and every
    // upload is checked against it.
    index('blocked_hashes_q0_idx').on(table.phashQ0, table.phash, table.id),
    index('blocked_hashes_q1_idx').on(table.phashQ1, table.phash, table.id),
    index('blocked_hashes_q2_idx').on(table.phashQ2, table.phash, table.id),
    index('blocked_hashes_q3_idx').on(table.phashQ3, table.phash, table.id),
  ],
);

export type BlockedHash = typeof blockedHashes.$inferSelect;
