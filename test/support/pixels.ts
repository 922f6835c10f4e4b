import sharp from 'sharp';

/**
 * An image (first frame of an animation) as small raw sRGB or greyscale pixels, alpha flattened onto white, for
 * comparing what is served with a reference. Decoded at full size first, then scaled: JPEG/WebP shrink-on-load
 * would make two decodes of the same picture differ. Embedded ICC profiles are honoured (sharp's default).
 */
export async function thumbnail(body: Buffer, width: number, height: number, grey = false): Promise<Buffer> {
  let pipeline = sharp(body).flatten({ background: '#ffffff' }).toColourspace('srgb');
  if (grey) pipeline = pipeline.greyscale();
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer();
}

export function meanAbsDiff(a: Buffer, b: Buffer): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}
