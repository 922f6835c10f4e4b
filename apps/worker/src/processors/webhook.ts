import { recordWebhookDelivery } from '@renditions/db';
import { ForbiddenAddressError, postSignedJson } from '@renditions/events';
import type { Services } from '@renditions/pipeline';
import { UnrecoverableError, type ProcessorFn, type WebhookJobData } from '@renditions/queue';

/**
 * Delivers one signed webhook. A non-2xx answer or a timeout is retried with exponential backoff and jitter;
 * every attempt is logged for the uploader and admins. A receiver on a refused address is not retried.
 */
export function createWebhookProcessor(services: Services): ProcessorFn<WebhookJobData> {
  const { timeoutMs, allowPrivate } = services.config.webhooks;
  return async (job) => {
    const { imageId, url, eventId, eventType, body } = job.data;
    const attempt = job.attemptsMade + 1;
    const record = (outcome: { statusCode?: number; latencyMs?: number; error?: string; succeeded: boolean }) =>
      recordWebhookDelivery(services.db, { imageId, eventId, eventType, url, attempt, ...outcome });
    const started = performance.now();
    let result;
    try {
      result = await postSignedJson(url, body, { secret: await services.webhookSecret(), eventId, timeoutMs, allowPrivate });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await record({ latencyMs: Math.round(performance.now() - started), error: message, succeeded: false });
      throw error instanceof ForbiddenAddressError ? new UnrecoverableError(message) : error;
    }
    const succeeded = result.statusCode >= 200 && result.statusCode < 300;
    await record({ statusCode: result.statusCode, latencyMs: result.latencyMs, succeeded });
    if (!succeeded) throw new Error(`receiver answered ${result.statusCode}`);
    return { outcome: 'done', detail: String(result.statusCode) };
  };
}
