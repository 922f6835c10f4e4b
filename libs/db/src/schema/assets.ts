import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { assetStatus, moderationVerdict, reprocessState, stepStatus } from './enums';

/**
 * One generation of a distinct uploaded content. Identical uploads share the live asset of their SHA-256, its
 * stored objects and its processing; `images` are the per-upload handles onto it. An asset being deleted is
 * never revived: the same bytes uploaded meanwhile start a new generation with its own id, storage prefix and
 * job ids, so the old generation's work can never touch the new one.
 */
export const assets = pgTable(
  'assets',
  {
    /** Random per generation; names the storage prefix (`assets/<id>/`) and the flow's job ids. */
    id: text('id').primaryKey(),
    sha256: text('sha256').notNull(),
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
    /** The ThumbHash placeholder (base64), made by the hash stage with the pHash. */
    thumbhash: text('thumbhash'),
    /**
     * Multi-index hashing: the hash's four 16-bit quarters, each indexed (with the hash and the id, so a search
     * never reads the table for a candidate). Two hashes within distance d share at least one quarter within
     * distance floor(d / 4), so a search probes four small index ranges.
     */
    phashQ0: integer('phash_q0').generatedAlwaysAs(sql`((phash >> 48) & 65535)::int`),
    phashQ1: integer('phash_q1').generatedAlwaysAs(sql`((phash >> 32) & 65535)::int`),
    phashQ2: integer('phash_q2').generatedAlwaysAs(sql`((phash >> 16) & 65535)::int`),
    phashQ3: integer('phash_q3').generatedAlwaysAs(sql`(phash & 65535)::int`),
    /** Camera, lens, taken-at, GPS... read before stripping; private to the uploader. */
    metadata: jsonb('metadata').$type<Record<string, unknown>>(),
    status: assetStatus('status').notNull().default('processing'),
    moderationVerdict: moderationVerdict('moderation_verdict').notNull().default('pending'),
    moderationReason: text('moderation_reason'),
    /** Which run of the flow is current: a retry of a failed asset starts run + 1, with fresh job ids. */
    flowRun: integer('flow_run').notNull().default(1),
    flowEnqueuedAt: timestamp('flow_enqueued_at', { withTimezone: true, mode: 'date' }),
    settledAt: timestamp('settled_at', { withTimezone: true, mode: 'date' }),
    /** Set when its last upload is deleted: from then on nothing revives it, and cleanup removes it. */
    deletingAt: timestamp('deleting_at', { withTimezone: true, mode: 'date' }),
    /** Set once a rejected asset's objects and CDN copies are gone. */
    takenDownAt: timestamp('taken_down_at', { withTimezone: true, mode: 'date' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('assets_live_sha256_idx').on(table.sha256).where(sql`${table.deletingAt} is null`),
    // The sweeper asks, for every stored object, whether a row records its key.
    index('assets_original_key_idx').on(table.originalKey),
    index('assets_stripped_key_idx').on(table.strippedKey),
    index('assets_unsettled_idx').on(table.createdAt).where(sql`${table.settledAt} is null`),
    // Covering: a near-duplicate search reads the quarter, the hash (for the exact distance) and the id from the
    // index alone (an Index Only Scan), touching the heap only for the few assets within the distance. Key columns
    // rather than INCLUDE, which drizzle-kit cannot express; the same bytes per entry (libs/db/src/queries/similar.ts).
    index('assets_phash_q0_idx').on(table.phashQ0, table.phash, table.id),
    index('assets_phash_q1_idx').on(table.phashQ1, table.phash, table.id),
    index('assets_phash_q2_idx').on(table.phashQ2, table.phash, table.id),
    index('assets_phash_q3_idx').on(table.phashQ3, table.phash, table.id),
  ],
);

/**
 * Each stage's status per asset, one row per stage the asset's flow runs: the stage list is data
 * (libs/pipeline/src/stages), so a new stage needs no new column.
 */
export const assetStages = pgTable(
  'asset_stages',
  {
    assetId: text('asset_id')
      .notNull()
      .references(() => assets.id, { onDelete: 'cascade' }),
    stage: text('stage').notNull(),
    status: stepStatus('status').notNull().default('pending'),
    /** Why the stage failed for good, for admins. */
    error: text('error'),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.assetId, table.stage] })],
);

export const renditions = pgTable(
  'renditions',
  {
    assetId: text('asset_id')
      .notNull()
      .references(() => assets.id, { onDelete: 'cascade' }),
    size: text('size').notNull(),
    format: text('format').notNull(),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    status: stepStatus('status').notNull().default('pending'),
    storageKey: text('storage_key'),
    bytes: integer('bytes'),
    etag: text('etag'),
    /**
     * A backfill re-render (`npm run reprocess`) of a ready rendition: `requested` until the new bytes are stored
     * and recorded, then `purging` until the CDN has forgotten the old copy, then null again. The rendition stays
     * `ready` and served (the old bytes, then the new) throughout.
     */
    reprocess: reprocessState('reprocess'),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.assetId, table.size, table.format] }),
    index('renditions_storage_key_idx').on(table.storageKey),
    // The reconciler looks for re-renders whose job was lost, oldest first; only those rows are indexed.
    index('renditions_reprocess_idx').on(table.updatedAt).where(sql`${table.reprocess} is not null`),
  ],
);

export type Asset = typeof assets.$inferSelect;
export type NewAsset = typeof assets.$inferInsert;
export type Rendition = typeof renditions.$inferSelect;
export type AssetStage = typeof assetStages.$inferSelect;
export type NewRendition = typeof renditions.$inferInsert;
