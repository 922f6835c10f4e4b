import type { CleanupJobData } from '@renditions/queue';
import type { Services } from './services';

/** Queues durable cleanup work; when Redis is down the reconciler finds the unfinished cleanup and queues it. */
export async function requestCleanup(services: Pick<Services, 'queues' | 'logger'>, data: CleanupJobData): Promise<void> {
  await services.queues.enqueueCleanup(data).catch((error: unknown) => {
    services.logger.warn({ err: error, ...data }, 'could not queue cleanup now; the reconciler will');
  });
}
