/**
 * Multi-index hashing over the four 16-bit quarters of a 64-bit pHash (the generated `phash_q0..q3` columns,
 * q0 being the most significant). By pigeonhole, two hashes within Hamming distance d differ by at most
 * floor(d / 4) bits in at least one quarter, so a search only has to look up, per quarter, every value within
 * a small radius: a few index lookups instead of a scan of every hash.
 */

const QUARTER_BITS = 16;
const QUARTER_MASK = (1n << 16n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);

export type PhashQuarters = [number, number, number, number];

/**
 * The four 16-bit quarters of a hash, most significant first: the same values as the `phash_q0..q3` columns.
 * Signed values (a PostgreSQL bigint) are read as their two's-complement bits.
 * @throws {RangeError} when the value does not fit in 64 bits
 * @example phashQuarters(0x0001_0002_0003_0004n) // [1, 2, 3, 4]
 */
export function phashQuarters(phash: bigint): PhashQuarters {
  if (phash < INT64_MIN || phash > UINT64_MAX) {
    throw new RangeError(`Expected a 64-bit hash (signed or unsigned) but received ${phash}`);
  }
  const bits = BigInt.asUintN(64, phash);
  return [48n, 32n, 16n, 0n].map((shift) => Number((bits >> shift) & QUARTER_MASK)) as PhashQuarters;
}

export interface QuarterProbe {
  /** 0 for `phash_q0` (the most significant 16 bits) .. 3 for `phash_q3`. */
  quarter: 0 | 1 | 2 | 3;
  /** Probe every value of that quarter within this many bits of the query's quarter. */
  radius: number;
}

/**
 * Which quarters to probe, and how far, so that no hash within `maxDistance` of the query is missed, with as few
 * candidates as the pigeonhole principle allows (Norouzi et al., "Fast Search in Hamming Space with Multi-Index
 * Hashing"): give the quarters budgets b0..b3 summing to maxDistance + 1 and probe each within b - 1. A hash
 * missed by every probe differs by at least b bits in each quarter, maxDistance + 1 in all. Against the plain
 * floor(maxDistance / 4) on all four this probes one quarter less far at 10 (428 values instead of 548) and
 * three at 16 (4,608 instead of 10,068); at 0 to 2 some quarters need no probe at all.
 * @throws {RangeError} when `maxDistance` is not an integer between 0 and 64
 * @example quarterProbes(10) // radii 1, 2, 2, 2 for quarters 0..3
 */
export function quarterProbes(maxDistance: number): QuarterProbe[] {
  if (!Number.isInteger(maxDistance) || maxDistance < 0 || maxDistance > 64) {
    throw new RangeError(
      `Expected integer between 0 and 64 for maxDistance but received ${maxDistance} of type ${typeof maxDistance}`,
    );
  }
  const budget = maxDistance + 1;
  const probes: QuarterProbe[] = [];
  for (const quarter of [0, 1, 2, 3] as const) {
    // The smaller budgets go to the first quarters: q0 holds the DC bit (almost always set) and the lowest
    // frequencies, so its values are the least spread out and each probed value matches the most rows.
    const radius = Math.floor(budget / 4) + (quarter >= 4 - (budget % 4) ? 1 : 0) - 1;
    if (radius >= 0) probes.push({ quarter, radius });
  }
  return probes;
}

/**
 * Every 16-bit value within Hamming distance `radius` of `value`, `value` itself first, each exactly once:
 * sum of C(16, k) for k = 0..radius values (137 for radius 2, 65536 from radius 16 on).
 * @throws {RangeError} when `value` is not an integer 0..65535 or `radius` not a non-negative integer
 * @example quarterValuesWithin(0, 1) // [0, 1, 2, 4, 8, ..., 32768]
 */
export function quarterValuesWithin(value: number, radius: number): number[] {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`Expected integer between 0 and 65535 for value but received ${value} of type ${typeof value}`);
  }
  if (!Number.isInteger(radius) || radius < 0) {
    throw new RangeError(`Expected non-negative integer for radius but received ${radius} of type ${typeof radius}`);
  }
  const values = [value];
  // Flipping bits in increasing order only reaches each set of flipped bits once, so nothing repeats.
  const flipFrom = (current: number, lowestBit: number, flipsLeft: number) => {
    for (let bit = lowestBit; bit < QUARTER_BITS; bit++) {
      const flipped = current ^ (1 << bit);
      values.push(flipped);
      if (flipsLeft > 1) flipFrom(flipped, bit + 1, flipsLeft - 1);
    }
  };
  if (radius > 0) flipFrom(value, 0, Math.min(radius, QUARTER_BITS));
  return values;
}
