/** Every queue of the product. The worker must register a processor for each (enforced by `ProcessorMap`). */
export const QUEUE_NAMES = ['strip', 'phash', 'moderation', 'render', 'render-avif', 'settle', 'webhook'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** The stages and renditions that run as children of one asset's `settle` job. */
export const CHILD_QUEUES = ['strip', 'phash', 'moderation', 'render', 'render-avif'] as const satisfies readonly QueueName[];

/**
 * AVIF costs ~20x more to encode than WebP or JPEG, so it has a queue of its own: the cheap renditions of a new
 * upload never wait behind another upload's AVIFs.
 */
export const RENDER_QUEUE_FORMATS = {
  render: ['jpg', 'webp'],
  'render-avif': ['avif'],
} as const satisfies Record<'render' | 'render-avif', readonly string[]>;
