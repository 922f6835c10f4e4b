import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { assetStatus, moderationVerdict, stepStatus } from './enums';

/**
 * One row per distinct uploaded content (keyed by SHA-256 of the bytes). Identical uploads share the
 * asset, its stored objects and its processing; `images` are the per-upload handles onto it.
 */
export const assets = pgTable(
  'assets',
  {
    sha256: text('sha256').primaryKey(),
    format: text('format').notNull(),
    mime: text('mime').notNull(),
    ext: text('ext').notNull(),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    orientation: integer('orientation').notNull(),
    pages: integer('pages').notNull(),
    bytes: integer('bytes').notNull(),
    originalKey: text('original_key').notNull(),
    strippedKey: text('stripped_key'),
    strippedBytes: integer('stripped_bytes'),
    strippedEtag: text('stripped_etag'),
    /** The 64-bit pHash, stored as PostgreSQL's signed bigint (same bits). */
    phash: bigint('phash', { mode: 'bigint' }),
    /**
     * Multi-index hashing: the hash's four 16-bit quarters, each indexed. Two hashes within distance d share
     * at least one quarter within distance floor(d / 4), so a search probes four small index ranges.
     */
    phashQ0: integer('phash_q0').generatedAlwaysAs(sql`((phash >> 48) & 65535)::int`),
    phashQ1: integer('phash_q1').generatedAlwaysAs(sql`((phash >> 32) & 65535)::int`),
    phashQ2: integer('phash_q2').generatedAlwaysAs(sql`((phash >> 16) & 65535)::int`),
    phashQ3: integer('phash_q3').generatedAlwaysAs(sql`(phash & 65535)::int`),
    /** Camera, lens, taken-at, GPS... read before stripping; private to the uploader. */
    metadata: jsonb('metadata').$type<Record<string, unknown>>(),
    status: assetStatus('status').notNull().default('processing'),
    stripStatus: stepStatus('strip_status').notNull().default('pending'),
    phashStatus: stepStatus('phash_status').notNull().default('pending'),
    moderationStatus: stepStatus('moderation_status').notNull().default('pending'),
    moderationVerdict: moderationVerdict('moderation_verdict').notNull().default('pending'),
    moderationReason: text('moderation_reason'),
    flowEnqueuedAt: timestamp('flow_enqueued_at', { withTimezone: true, mode: 'date' }),
    settledAt: timestamp('settled_at', { withTimezone: true, mode: 'date' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    index('assets_unsettled_idx').on(table.createdAt).where(sql`${table.settledAt} is null`),
    index('assets_phash_q0_idx').on(table.phashQ0),
    index('assets_phash_q1_idx').on(table.phashQ1),
    index('assets_phash_q2_idx').on(table.phashQ2),
    index('assets_phash_q3_idx').on(table.phashQ3),
  ],
);

export const renditions = pgTable(
  'renditions',
  {
    assetSha256: text('asset_sha256')
      .notNull()
      .references(() => assets.sha256, { onDelete: 'cascade' }),
    size: text('size').notNull(),
    format: text('format').notNull(),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    status: stepStatus('status').notNull().default('pending'),
    storageKey: text('storage_key'),
    bytes: integer('bytes'),
    etag: text('etag'),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.assetSha256, table.size, table.format] })],
);

export type Asset = typeof assets.$inferSelect;
export type NewAsset = typeof assets.$inferInsert;
export type Rendition = typeof renditions.$inferSelect;
export type NewRendition = typeof renditions.$inferInsert;
