import type { ModerationDecision } from '@renditions/db';

/** Near-duplicates of a blocked hash within this many bits are rejected without asking the hook. */
export const BLOCKLIST_MAX_DISTANCE = 6;

/** What MODERATION_FAIL_MODE decides once moderation kept failing: `open` serves the image, `closed` takes it down. */
export function failModeDecision(mode: 'open' | 'closed', error: unknown): ModerationDecision {
  const message = error instanceof Error ? error.message : String(error);
  const cause = message.length > 300 ? `${message.slice(0, 300)}...` : message;
  return mode === 'open'
    ? { verdict: 'allow', reason: `moderation failed (${cause}); allowed because MODERATION_FAIL_MODE=open` }
    : { verdict: 'reject', reason: `moderation failed (${cause}); rejected because MODERATION_FAIL_MODE=closed` };
}
