import { moderateAsset, moderationEventId, type Services } from '@renditions/pipeline';
import type { ProcessorFn } from '@renditions/queue';

/**
 * The moderation stage (blocklist, then the external hook or the built-in allow). Its attempts come from
 * MODERATION_ATTEMPTS; on the last one the fail mode decides instead of the job failing for good.
 */
export function createModerationProcessor(services: Services): ProcessorFn<'moderation'> {
  return async (job) =>
    moderateAsset(services, job.data.sha256, {
      eventId: moderationEventId(job.id ?? job.name, job.timestamp),
      lastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
    });
}
