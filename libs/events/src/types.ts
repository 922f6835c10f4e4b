/** Events a webhook receiver can get. */
export const WEBHOOK_EVENT_TYPES = [
  'image.rendition.ready',
  'image.ready',
  'image.failed',
  'image.rejected',
  'image.deleted',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
/** Live (SSE) streams also get `image.updated` on any status change. */
export type ImageEventType = WebhookEventType | 'image.updated';

/** The body of a webhook and the `data:` of an SSE event. */
export interface ImageEvent<Data = unknown> {
  type: ImageEventType;
  timestamp: string;
  data: Data;
}

export function isWebhookEventType(type: ImageEventType): type is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(type);
}

/** Events after which an image's live stream ends. */
export const SETTLING_EVENT_TYPES: readonly ImageEventType[] = ['image.ready', 'image.failed', 'image.rejected', 'image.deleted'];

/** The event that announces an image settling in each final status. */
export const SETTLED_EVENT_TYPE = {
  ready: 'image.ready',
  failed: 'image.failed',
  rejected: 'image.rejected',
} as const satisfies Record<string, WebhookEventType>;

export function isSettlingEventType(type: ImageEventType): boolean {
  return SETTLING_EVENT_TYPES.includes(type);
}
