import { pgEnum } from 'drizzle-orm/pg-core';

export const stepStatus = pgEnum('step_status', ['pending', 'processing', 'ready', 'failed']);
export const assetStatus = pgEnum('asset_status', ['processing', 'ready', 'failed', 'rejected']);
export const moderationVerdict = pgEnum('moderation_verdict', ['pending', 'allow', 'reject', 'review']);
/** A re-render asked for by `npm run reprocess`: `requested`, then `purging` once the new bytes are recorded. */
export const reprocessState = pgEnum('reprocess_state', ['requested', 'purging']);

export type StepStatus = (typeof stepStatus.enumValues)[number];
export type AssetStatus = (typeof assetStatus.enumValues)[number];
export type ModerationVerdict = (typeof moderationVerdict.enumValues)[number];
export type ReprocessState = (typeof reprocessState.enumValues)[number];
