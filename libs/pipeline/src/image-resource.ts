export interface RenditionResource {
  size: string;
  format: string;
  width: number;
  height: number;
  status: string;
  url: string;
}

/** The contract's image resource: what polling, events and webhooks carry. Never includes the delete token. */
export interface ImageResource {
  id: string;
  status: string;
  url: string;
  mime: string;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  phash: string | null;
  /** Base64 ThumbHash placeholder once the hash stage ran. */
  thumbhash: string | null;
  title: string | null;
  created_at: string;
  /** strip, phash, moderation: each stage that does not report through renditions. */
  stages: Record<string, string>;
  moderation: { verdict: string; reason: string | null };
  renditions: RenditionResource[];
}
