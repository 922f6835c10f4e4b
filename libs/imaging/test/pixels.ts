import sharp from 'sharp';

/**
 * Decodes any image to small sRGB (or greyscale) raw pixels, alpha dropped onto white, for comparisons. Full decode first,
 * then scale: JPEG/WebP shrink-on-load would otherwise make two decodes of the same picture differ.
 */
export async function smallRgb(input: Buffer, width: number, height: number, grey = false): Promise<Buffer> {
  const pipeline = sharp(input).flatten({ background: '#ffffff' }).toColourspace('srgb');
  const { data, info } = await (grey ? pipeline.greyscale() : pipeline).raw().toBuffer({ resolveWithObject: true });
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

/** Mean of each channel of interleaved raw pixels. */
export function channelMeans(raw: Buffer, channels: number): number[] {
  const sums = new Array<number>(channels).fill(0);
  for (let i = 0; i < raw.length; i++) sums[i % channels]! += raw[i]!;
  return sums.map((sum) => sum / (raw.length / channels));
}

/** What format the leading bytes of an output are, by magic number. */
export function magicOf(data: Buffer): 'jpeg' | 'png' | 'gif' | 'webp' | 'avif' | 'tiff' | 'unknown' {
  if (data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpeg';
  if (data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (data.toString('latin1', 0, 6) === 'GIF89a' || data.toString('latin1', 0, 6) === 'GIF87a') return 'gif';
  if (data.toString('latin1', 0, 4) === 'RIFF' && data.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  if (data.toString('latin1', 4, 12) === 'ftypavif') return 'avif';
  if (data.toString('latin1', 0, 4) === 'II*\0' || data.toString('latin1', 0, 4) === 'MM\0*') return 'tiff';
  return 'unknown';
}
