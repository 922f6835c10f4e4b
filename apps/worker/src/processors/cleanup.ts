import { runCleanup, type Services } from '@renditions/pipeline';
import type { CleanupJobData, ProcessorFn } from '@renditions/queue';

/** Deletes and takedowns: removes objects and CDN copies, retried until storage and the CDN accept. */
export function createCleanupProcessor(services: Services): ProcessorFn<CleanupJobData> {
  return async (job) => runCleanup(services, job.data);
}
