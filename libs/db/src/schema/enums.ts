import { pgEnum } from 'drizzle-orm/pg-core';

export const stepStatus = pgEnum('step_status', ['pending', 'processing', 'ready', 'failed']);
export const assetStatus = pgEnum('asset_status', ['processing', 'ready', 'failed', 'rejected']);
export const moderationVerdict = pgEnum('moderation_verdict', ['pending', 'allow', 'reject', 'review']);

export type StepStatus = (typeof stepStatus.enumValues)[number];
export type AssetStatus = (typeof assetStatus.enumValues)[number];
export type ModerationVerdict = (typeof moderationVerdict.enumValues)[number];
