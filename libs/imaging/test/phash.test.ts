import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { InvalidImageError } from '@renditions/errors';
import { dct2dTopLeft } from '../src/dct';
import { computePhash, hammingDistance, phashFromGrey, phashFromHex, phashToHex } from '../src/phash';
import { readCorpus } from './corpus';

describe('hash arithmetic', () => {
  it('hex is 16 zero-padded lowercase digits and round-trips', () => {
    expect(phashToHex(0n)).toBe('0000000000000000');
    expect(phashToHex(0xabcn)).toBe('0000000000000abc');
    expect(phashToHex((1n << 64n) - 1n)).toBe('ffffffffffffffff');
    expect(phashFromHex('00000000000000ff')).toBe(255n);
    expect(phashFromHex(phashToHex(0x8000_0000_0000_0001n))).toBe(0x8000_0000_0000_0001n);
  });

  it('reads a signed 64-bit value (a PostgreSQL bigint) as its two\'s-complement bits', () => {
    expect(phashToHex(-1n)).toBe('ffffffffffffffff');
    expect(hammingDistance(-1n, (1n << 64n) - 1n)).toBe(0);
    expect(hammingDistance(BigInt.asIntN(64, 0xf000_0000_0000_0000n), 0xf000_0000_0000_0000n)).toBe(0);
  });

  it('refuses values that do not fit in 64 bits and malformed hex', () => {
    expect(() => phashToHex(1n << 64n)).toThrow(RangeError);
    expect(() => hammingDistance(0n, -(1n << 63n) - 1n)).toThrow(RangeError);
    expect(() => phashFromHex('abc')).toThrow(/Expected 16 hex digits; got "abc"/);
    expect(() => phashFromHex('zzzzzzzzzzzzzzzz')).toThrow(RangeError);
  });

  it('counts differing bits', () => {
    expect(hammingDistance(0n, 0n)).toBe(0);
    expect(hammingDistance(0b1011n, 0b0001n)).toBe(2);
    expect(hammingDistance(0n, (1n << 64n) - 1n)).toBe(64);
  });
});

describe('DCT and the hash of a grey block', () => {
  it('matches the DCT-II definition', () => {
    const n = 32;
    const block = Array.from({ length: n * n }, (_, i) => (i * 7919) % 256);
    const fast = dct2dTopLeft(block, n, 8);
    for (const [v, u] of [[0, 0], [0, 3], [5, 1], [7, 7]] as const) {
      let sum = 0;
      for (let y = 0; y < n; y++) {
        for (let x = 0; x < n; x++) {
          sum += block[y * n + x]! * Math.cos((Math.PI / n) * (x + 0.5) * u) * Math.cos((Math.PI / n) * (y + 0.5) * v);
        }
      }
      expect(fast[v * 8 + u]).toBeCloseTo(sum, 6);
    }
  });

  it('sets only bit 63 (the DC term) for a flat block, whatever its level', () => {
    expect(phashFromGrey(new Array(1024).fill(200))).toBe(1n << 63n);
    expect(phashFromGrey(new Array(1024).fill(3))).toBe(1n << 63n);
  });

  it('puts coefficient [0][0] in the most significant bit, row-major after it', () => {
    // A horizontal ramp has energy only in the first row of frequencies (v = 0): bits 63..56.
    const ramp = Array.from({ length: 1024 }, (_, i) => (i % 32) * 8);
    const hash = phashFromGrey(ramp);
    expect(hash >> 56n).not.toBe(0n);
    expect(hash & ((1n << 56n) - 1n)).toBe(0n);
  });

  it('refuses a block of the wrong size', () => {
    expect(() => phashFromGrey(new Array(100).fill(0))).toThrow(RangeError);
  });
});

/** Upright copies (sharp drops EXIF, so the variants are rotated into their pixels first). */
async function variantsOf(source: Buffer): Promise<Record<string, Buffer>> {
  const upright = () => sharp(source).rotate();
  const { autoOrient } = await sharp(source).metadata();
  return {
    'resized to 50%': await upright().resize(Math.round(autoOrient.width / 2)).png().toBuffer(),
    'JPEG q30': await upright().flatten({ background: '#ffffff' }).jpeg({ quality: 30 }).toBuffer(),
    PNG: await upright().png().toBuffer(),
    WebP: await upright().webp().toBuffer(),
    '4px black border': await upright().extend({ top: 4, bottom: 4, left: 4, right: 4, background: '#000000' }).png().toBuffer(),
  };
}

describe('computePhash on real images', () => {
  it.each(['photos/DSCN0010.jpg', 'kodak/kodim23.png', 'photos/canon_hdr_NO.jpg'])('%s: near-duplicates are within 10 bits', async (file) => {
    const source = readCorpus(file);
    const original = await computePhash(source);
    const distances: Record<string, number> = {};
    for (const [name, variant] of Object.entries(await variantsOf(source))) distances[name] = hammingDistance(original, await computePhash(variant));
    console.info(`pHash distances for ${file}: ${JSON.stringify(distances)}`);
    for (const [name, distance] of Object.entries(distances)) expect(distance, name).toBeLessThanOrEqual(10);
  });

  it('a transparent WebP and its conversions (alpha read as white) are within 10 bits', async () => {
    const source = readCorpus('formats/5_webp_a.webp');
    const original = await computePhash(source);
    const { ['4px black border']: border, ...conversions } = await variantsOf(source);
    const distances = Object.fromEntries(
      await Promise.all(Object.entries(conversions).map(async ([name, variant]) => [name, hammingDistance(original, await computePhash(variant))] as const)),
    );
    // A black frame around a transparent (white) background is a large change for a 300 px image: reported only.
    const borderDistance = hammingDistance(original, await computePhash(border!));
    console.info(`pHash distances for formats/5_webp_a.webp: ${JSON.stringify(distances)}, 4px black border: ${borderDistance}`);
    for (const [name, distance] of Object.entries(distances)) expect(distance, name).toBeLessThanOrEqual(10);
  });

  it('different Kodak images are more than 10 bits apart', async () => {
    const names = ['kodim01', 'kodim03', 'kodim05', 'kodim09', 'kodim13', 'kodim23'];
    const hashes = await Promise.all(names.map((name) => computePhash(readCorpus(`kodak/${name}.png`))));
    const distances: string[] = [];
    for (let i = 0; i < names.length; i++) {
      for (let j = i + 1; j < names.length; j++) {
        const distance = hammingDistance(hashes[i]!, hashes[j]!);
        distances.push(`${names[i]}-${names[j]}=${distance}`);
        expect(distance, `${names[i]} vs ${names[j]}`).toBeGreaterThan(10);
      }
    }
    console.info(`pHash distances between Kodak images: ${distances.join(' ')}`);
  });

  it('is computed on the auto-oriented image: every Landscape_N hashes like Landscape_0', async () => {
    const upright = await computePhash(readCorpus('orientation/Landscape_0.jpg'));
    for (let n = 1; n <= 8; n++) expect(hammingDistance(upright, await computePhash(readCorpus(`orientation/Landscape_${n}.jpg`))), `Landscape_${n}`).toBeLessThanOrEqual(2);
  });

  it('canon_hdr_NO vs canon_hdr_YES (same scene, HDR and reframed): reported', async () => {
    const distance = hammingDistance(await computePhash(readCorpus('photos/canon_hdr_NO.jpg')), await computePhash(readCorpus('photos/canon_hdr_YES.jpg')));
    console.info(`pHash distance canon_hdr_NO vs canon_hdr_YES: ${distance}`);
    // Closer than unrelated photos (>= 24 on this corpus), but not within the default max_distance of 10.
    expect(distance).toBeGreaterThan(0);
    expect(distance).toBeLessThan(24);
  });

  it('is stable and hashes animations by their first frame', async () => {
    const gif = readCorpus('formats/rotating-squares.gif');
    expect(await computePhash(gif)).toBe(await computePhash(gif));
    expect(hammingDistance(await computePhash(gif), await computePhash(await sharp(gif).png().toBuffer()))).toBeLessThanOrEqual(2);
  });

  it('throws InvalidImageError on undecodable bytes', async () => {
    await expect(computePhash(readCorpus('bad/truncated.jpg'))).rejects.toBeInstanceOf(InvalidImageError);
  });
});
