import sharp from 'sharp';
import { decodeRenditionBase, type RenditionBase } from './base';
import { dct2dTopLeft } from './dct';

/** The image is reduced to SAMPLE x SAMPLE grey pixels, of which the lowest HASH_SIDE x HASH_SIDE frequencies count. */
const SAMPLE = 32;
const HASH_SIDE = 8;
const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);

/**
 * 64-bit DCT perceptual hash (the pHash / Python ImageHash `phash` recipe) of the auto-oriented image, from its
 * decoded base: flatten alpha onto white, greyscale, resize to 32x32 ignoring aspect, 2D DCT-II, keep the
 * top-left 8x8 coefficients INCLUDING the DC term, and set each bit when its coefficient is above the median of
 * those 64. Bit 63 (the most significant) is coefficient [0][0], then row-major. Animated images hash their
 * first frame. Similar images differ in few bits (see {@link hammingDistance}).
 * @returns an unsigned 64-bit value (0 .. 2^64-1)
 */
export async function phashOfBase(base: RenditionBase): Promise<bigint> {
  const { data, info } = await sharp(base.data, { raw: { width: base.width, height: base.height, channels: base.channels } })
    .flatten({ background: '#ffffff' })
    .resize(SAMPLE, SAMPLE, { fit: 'fill' })
    .toColourspace('b-w')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`expected 1 grey channel; got ${info.channels}`);
  return phashFromGrey(data);
}

/** The hash of a SAMPLE x SAMPLE grey block; split out so the maths is testable without a decoder. */
export function phashFromGrey(grey: ArrayLike<number>): bigint {
  // Rounding noise (~1e-13) stands for exact zeros, e.g. every AC term of a flat image: without this, blank
  // images would hash to arbitrary bits instead of all matching each other.
  const coefficients = dct2dTopLeft(grey, SAMPLE, HASH_SIDE).map((value) => (Math.abs(value) < 1e-6 ? 0 : value));
  const median = medianOf(coefficients);
  let hash = 0n;
  for (const value of coefficients) hash = (hash << 1n) | (value > median ? 1n : 0n);
  return hash;
}

function medianOf(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 0 ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[mid]!;
}

/**
 * Number of differing bits between two 64-bit hashes; signed values (a PostgreSQL bigint) are read as their
 * two's-complement bits, so a hash round-tripped through the database compares equal to the original.
 * @throws {RangeError} when a value does not fit in 64 bits
 */
export function hammingDistance(a: bigint, b: bigint): number {
  let diff = toUint64(a) ^ toUint64(b);
  let count = 0;
  while (diff !== 0n) {
    diff &= diff - 1n;
    count++;
  }
  return count;
}

/**
 * 16 lowercase hex digits, zero padded (signed 64-bit values are written as their two's-complement bits).
 * @throws {RangeError} when the value does not fit in 64 bits
 */
export function phashToHex(hash: bigint): string {
  return toUint64(hash).toString(16).padStart(16, '0');
}

/**
 * Parses 16 hex digits back into an unsigned 64-bit hash.
 * @throws {RangeError} when the text is not exactly 16 hex digits
 */
export function phashFromHex(hex: string): bigint {
  if (!/^[0-9a-fA-F]{16}$/.test(hex)) throw new RangeError(`Expected 16 hex digits; got "${hex}"`);
  return BigInt(`0x${hex}`);
}

function toUint64(value: bigint): bigint {
  if (value < INT64_MIN || value > UINT64_MAX) {
    throw new RangeError(`Expected a 64-bit hash (signed or unsigned); got ${value}`);
  }
  return BigInt.asUintN(64, value);
}

/**
 * The pHash of a source not decoded yet (see {@link phashOfBase}).
 * @throws {InvalidImageError} when the source cannot be decoded
 */
export async function computePhash(source: Buffer): Promise<bigint> {
  return phashOfBase(await decodeRenditionBase(source));
}
