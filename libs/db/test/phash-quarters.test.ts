import { describe, expect, it } from 'vitest';
import { phashQuarters, quarterProbes, quarterValuesWithin } from '../src/phash-quarters';

function popcount16(value: number): number {
  let count = 0;
  for (let bits = value; bits !== 0; bits &= bits - 1) count++;
  return count;
}

function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - i + 1)) / i;
  return result;
}

describe('phashQuarters', () => {
  it('splits a hash into four 16-bit quarters, most significant first', () => {
    expect(phashQuarters(0x0001_0002_0003_0004n)).toEqual([1, 2, 3, 4]);
    expect(phashQuarters((1n << 64n) - 1n)).toEqual([0xffff, 0xffff, 0xffff, 0xffff]);
  });

  it("reads a signed bigint as its two's-complement bits, like the generated columns", () => {
    expect(phashQuarters(-1n)).toEqual([0xffff, 0xffff, 0xffff, 0xffff]);
    expect(phashQuarters(BigInt.asIntN(64, 0x8000_0000_0000_00ffn))).toEqual([0x8000, 0, 0, 0xff]);
  });

  it('refuses values that do not fit in 64 bits', () => {
    expect(() => phashQuarters(1n << 64n)).toThrow(/Expected a 64-bit hash/);
    expect(() => phashQuarters(-(1n << 63n) - 1n)).toThrow(RangeError);
  });
});

describe('quarterProbes', () => {
  const radii = (maxDistance: number) => quarterProbes(maxDistance).map(({ quarter, radius }) => `q${quarter}:${radius}`);

  it('spreads maxDistance + 1 over the quarters, the first ones probed least far', () => {
    expect(radii(0)).toEqual(['q3:0']);
    expect(radii(2)).toEqual(['q1:0', 'q2:0', 'q3:0']);
    expect(radii(3)).toEqual(['q0:0', 'q1:0', 'q2:0', 'q3:0']);
    expect(radii(6)).toEqual(['q0:0', 'q1:1', 'q2:1', 'q3:1']);
    expect(radii(10)).toEqual(['q0:1', 'q1:2', 'q2:2', 'q3:2']);
    expect(radii(16)).toEqual(['q0:3', 'q1:3', 'q2:3', 'q3:4']);
    expect(radii(32)).toEqual(['q0:7', 'q1:7', 'q2:7', 'q3:8']);
  });

  it('never misses: however d <= maxDistance differing bits fall over the quarters, one probe reaches them', () => {
    for (let maxDistance = 0; maxDistance <= 64; maxDistance++) {
      const probes = quarterProbes(maxDistance);
      for (let a = 0; a <= 16; a++) {
        for (let b = 0; b <= 16; b++) {
          for (let c = 0; c <= 16; c++) {
            for (let d = 0; d <= 16 && a + b + c + d <= maxDistance; d++) {
              const perQuarter = [a, b, c, d];
              const reached = probes.some(({ quarter, radius }) => perQuarter[quarter]! <= radius);
              if (!reached) throw new Error(`maxDistance ${maxDistance} misses bits spread ${perQuarter.join('-')}`);
            }
          }
        }
      }
    }
  });

  it('probes no further than needed: the radii spend exactly maxDistance + 1 bits', () => {
    for (let maxDistance = 0; maxDistance <= 64; maxDistance++) {
      const total = quarterProbes(maxDistance).reduce((sum, { radius }) => sum + radius + 1, 0);
      expect(total, `maxDistance ${maxDistance}`).toBe(maxDistance + 1);
    }
  });

  it('names what it expected and what arrived', () => {
    expect(() => quarterProbes(-1)).toThrow('Expected integer between 0 and 64 for maxDistance but received -1 of type number');
    expect(() => quarterProbes(65)).toThrow(RangeError);
    expect(() => quarterProbes(2.5)).toThrow(RangeError);
  });
});

describe('quarterValuesWithin', () => {
  it('radius 0 is the value alone; radius 1 adds each single-bit flip', () => {
    expect(quarterValuesWithin(0xabcd, 0)).toEqual([0xabcd]);
    expect(quarterValuesWithin(0, 1)).toEqual([0, ...Array.from({ length: 16 }, (_, bit) => 1 << bit)]);
  });

  it.each([
    [0x0000, 2],
    [0xffff, 3],
    [0x5a3c, 4],
    [0x8001, 8],
  ])('value %i radius %i: exactly the values within the radius, each once', (value, radius) => {
    const generated = quarterValuesWithin(value, radius);
    const expected = Array.from({ length: 0x10000 }, (_, other) => other).filter(
      (other) => popcount16(other ^ value) <= radius,
    );
    expect(new Set(generated).size).toBe(generated.length);
    expect([...generated].sort((a, b) => a - b)).toEqual(expected);
    let count = 0;
    for (let k = 0; k <= radius; k++) count += binomial(16, k);
    expect(generated.length).toBe(count);
  });

  it('covers all 65536 values from radius 16 on', () => {
    expect(quarterValuesWithin(0x1234, 16)).toHaveLength(65536);
    expect(quarterValuesWithin(0x1234, 20)).toHaveLength(65536);
  });

  it('names what it expected and what arrived', () => {
    expect(() => quarterValuesWithin(65536, 1)).toThrow(
      'Expected integer between 0 and 65535 for value but received 65536 of type number',
    );
    expect(() => quarterValuesWithin(1, -1)).toThrow('Expected non-negative integer for radius but received -1 of type number');
  });
});
