import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

/** One PNG chunk: length, type, data and a CRC (the right one unless `crc` is given). */
export function pngChunk(type: string, data: Buffer = Buffer.alloc(0), crc?: number): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc ?? crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A small, valid PNG from sharp: 8-byte signature, IHDR, IDAT..., IEND. */
export async function smallPng(): Promise<Buffer> {
  return sharp({ create: { width: 16, height: 16, channels: 3, background: '#3a7' } }).png().toBuffer();
}

/** Offset just past the IHDR chunk (signature 8 bytes + IHDR 12 + 13). */
export const AFTER_IHDR = 8 + 12 + 13;

/**
 * The F8 attack: a valid PNG with `emptyIdatChunks` zero-length IDAT chunks (CRCs right, so nothing is
 * "corrupt") between IHDR and the real image data. 1,745,000 of them make a 20.9 MB file, just under the
 * 20 MiB upload limit; the old synchronous walker spent ~0.7 s of the event loop on it.
 */
export async function idatBombPng(emptyIdatChunks: number): Promise<Buffer> {
  const png = await smallPng();
  const emptyIdat = pngChunk('IDAT');
  // Buffer.fill repeats a multi-byte value: one allocation, no 1.7 M-element concat.
  const bomb = Buffer.alloc(emptyIdat.length * emptyIdatChunks).fill(emptyIdat);
  return Buffer.concat([png.subarray(0, AFTER_IHDR), bomb, png.subarray(AFTER_IHDR)]);
}

/**
 * A valid PNG of about `bytes` bytes that does not compress (random pixels, zlib level 0): a full-size upload
 * whose every byte the chunk walker must read and CRC.
 */
export async function incompressiblePng(bytes: number): Promise<Buffer> {
  const side = Math.floor(Math.sqrt(bytes / 3));
  return sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } })
    .png({ compressionLevel: 0, adaptiveFiltering: false })
    .toBuffer();
}
