/** Every queue of the product. The worker must register a processor for each (enforced by `ProcessorMap`). */
export const QUEUE_NAMES = ['strip', 'phash', 'moderation', 'render', 'render-avif', 'settle', 'webhook'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/**
 * The shape of one asset's flow under its `settle` job: each key runs after its children. Moderation waits for
 * the perceptual hash (the blocklist needs it), and an asset's AVIFs wait for its JPEG and WebP renditions, so
 * the cheap renditions of an upload are never slowed by its own AVIF encodes.
 */
export const FLOW_TREE = {
  strip: [],
  moderation: ['phash'],
  'render-avif': ['render'],
} as const satisfies Partial<Record<QueueName, readonly QueueName[]>>;

/**
 * AVIF costs ~20x more to encode than WebP or JPEG, so it has a queue of its own: the cheap renditions of a new
 * upload never wait behind another upload's AVIFs.
 */
export const RENDER_QUEUE_FORMATS = {
  render: ['jpg', 'webp'],
  'render-avif': ['avif'],
} as const satisfies Record<'render' | 'render-avif', readonly string[]>;
