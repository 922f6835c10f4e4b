import { InvalidImageError } from '@renditions/errors';
import { decoderReason, openImage } from './decode';
import { withRenditionEncoder } from './encoders';
import { renditionMime } from './plan';
import type { EncodedImage, Fit, RenditionSpec } from './types';

/**
 * One rendition of an animation that stays animated: every frame is decoded, scaled to spec.width x
 * spec.height (a cover box takes each frame's centred square) and encoded with the source's frame delays and
 * loop count. Each call decodes the whole animation again, which uploads keep cheap by capping frames and
 * total pixels (MAX_ANIMATION_FRAMES, MAX_ANIMATION_PIXELS); no raw copy of every frame is held in memory.
 * @throws {InvalidImageError} when the source cannot be decoded
 */
export async function renderAnimatedRendition(source: Buffer, spec: RenditionSpec, fit: Fit): Promise<EncodedImage> {
  const pipeline = openImage(source, { animated: true })
    .resize(spec.width, spec.height, { fit: fit === 'cover' ? 'cover' : 'fill' })
    .toColourspace('srgb');
  let encoded;
  try {
    encoded = await withRenditionEncoder(pipeline, spec.format).toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new InvalidImageError(`Expected a decodable animation; ${decoderReason(error)}`, { cause: error });
  }
  const { data, info } = encoded;
  const frameHeight = info.pageHeight ?? info.height;
  if (info.width !== spec.width || frameHeight !== spec.height) {
    throw new Error(`encoded ${spec.size}.${spec.format} frames are ${info.width}x${frameHeight}; expected ${spec.width}x${spec.height}`);
  }
  return { data, mime: renditionMime(spec.format), width: info.width, height: frameHeight };
}
