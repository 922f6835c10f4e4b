import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import type { RenditionBase } from './base';

/** ThumbHash encodes images of at most 100 x 100 pixels. */
const THUMBHASH_BOX = 100;

/**
 * The ThumbHash placeholder of an asset (base64, ~25 bytes): what a page shows, blurred, while the renditions
 * load. Made from the decoded base, so it costs a 100 px resize, not a decode.
 */
export async function thumbhashOfBase(base: RenditionBase): Promise<string> {
  const { data, info } = await sharp(base.data, { raw: { width: base.width, height: base.height, channels: base.channels } })
    .resize(THUMBHASH_BOX, THUMBHASH_BOX, { fit: 'inside', withoutEnlargement: true })
    .ensureAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return Buffer.from(rgbaToThumbHash(info.width, info.height, data)).toString('base64');
}
