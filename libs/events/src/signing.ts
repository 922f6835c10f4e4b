import { randomBytes, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** The Standard Webhooks headers of one signed request. */
export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** A new `whsec_` secret: 32 random bytes, base64 (what Standard Webhooks receivers expect). */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export function newEventId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`;
}

/**
 * Signs a body per the Standard Webhooks spec: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed by the
 * base64 part of the `whsec_` secret. The id stays the same across retries of one event, so receivers dedupe.
 */
export function signWebhook(secret: string, eventId: string, body: string, at: Date = new Date()): SignedHeaders {
  const timestamp = new Date(Math.floor(at.getTime() / 1000) * 1000);
  return {
    'webhook-id': eventId,
    'webhook-timestamp': String(timestamp.getTime() / 1000),
    'webhook-signature': new Webhook(secret).sign(eventId, timestamp, body),
  };
}
