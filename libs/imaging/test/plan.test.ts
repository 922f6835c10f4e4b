import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { planRenditions, renditionMime, SIZE_BOXES } from '../src/plan';
import { decodeRenditionBase } from '../src/base';
import { renderRenditions } from '../src/render';
import type { RenditionSpec } from '../src/types';

const key = (spec: Pick<RenditionSpec, 'size' | 'format'>) => `${spec.size}.${spec.format}`;
const dims = (specs: RenditionSpec[]) => Object.fromEntries(specs.map((s) => [key(s), `${s.width}x${s.height}`]));

describe('SIZE_BOXES and renditionMime', () => {
  it('are the contract table', () => {
    expect(SIZE_BOXES).toEqual([
      { size: 's', box: 90, fit: 'cover' },
      { size: 'b', box: 160, fit: 'cover' },
      { size: 't', box: 160, fit: 'inside' },
      { size: 'm', box: 320, fit: 'inside' },
      { size: 'l', box: 640, fit: 'inside' },
      { size: 'h', box: 1024, fit: 'inside' },
    ]);
    expect(renditionMime('webp')).toBe('image/webp');
    expect(renditionMime('avif')).toBe('image/avif');
    expect(renditionMime('jpg')).toBe('image/jpeg');
    expect(() => renditionMime('png' as never)).toThrow(/Expected a rendition format \(webp, avif, jpg\); got png/);
  });
});

describe('planRenditions (pure)', () => {
  it('gives 18 specs, every size in webp, avif and jpg', () => {
    const plan = planRenditions(4032, 3024);
    expect(plan).toHaveLength(18);
    expect(new Set(plan.map(key)).size).toBe(18);
    expect(dims(plan)).toMatchObject({
      's.webp': '90x90', 'b.avif': '160x160', 't.jpg': '160x120', 'm.webp': '320x240', 'l.avif': '640x480', 'h.jpg': '1024x768',
    });
  });

  it('never enlarges: a 100x68 photo keeps its size, its squares are 68 px', () => {
    expect(dims(planRenditions(100, 68).filter((s) => s.format === 'webp'))).toEqual({
      's.webp': '68x68', 'b.webp': '68x68', 't.webp': '100x68', 'm.webp': '100x68', 'l.webp': '100x68', 'h.webp': '100x68',
    });
  });

  it('squares are the largest centred square up to the box', () => {
    expect(dims(planRenditions(3000, 120).filter((s) => s.format === 'jpg'))).toMatchObject({ 's.jpg': '90x90', 'b.jpg': '120x120' });
  });

  it('rounds half up and never collapses an axis', () => {
    expect(dims(planRenditions(320, 161))['t.jpg']).toBe('160x81'); // 80.5 -> 81
    expect(dims(planRenditions(3, 1000))['t.jpg']).toBe('1x160'); // 0.48 -> 1
    expect(dims(planRenditions(1, 1))['h.jpg']).toBe('1x1');
  });

  it('rejects impossible dimensions', () => {
    for (const [w, h] of [[0, 10], [10, -1], [1.5, 10], [Number.NaN, 1]] as const) {
      expect(() => planRenditions(w, h)).toThrow(RangeError);
    }
  });
});

/** Odd sizes where rounding, shrink-on-load or the cover crop could go wrong. */
const ODD_SIZES: Array<[number, number]> = [
  [1, 1], [2, 1], [3, 3], [3, 1000], [1000, 3], [1001, 667], [4032, 3024], [1023, 1025], [100, 68], [320, 161],
  [161, 320], [2000, 10], [10, 2000], [1025, 1], [641, 321], [1280, 641], [90, 90], [91, 89], [159, 161],
  [1024, 1024], [1025, 1024], [333, 777], [2049, 1537], [4608, 1976], [8000, 170],
];

/** A smooth but non-uniform picture (upscaled noise): cheap to encode and decode at any size. */
async function testJpeg(width: number, height: number): Promise<Buffer> {
  const seed = await sharp({ create: { width: 16, height: 12, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
    .png()
    .toBuffer();
  return sharp(seed).resize(width, height, { fit: 'fill' }).jpeg({ quality: 80 }).toBuffer();
}

async function renderedDims(source: Buffer, specs: RenditionSpec[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  await renderRenditions(await decodeRenditionBase(source), specs, async (spec, image) => {
    const meta = await sharp(image.data).metadata();
    expect(`${image.width}x${image.height}`).toBe(`${meta.width}x${meta.height}`);
    out[key(spec)] = `${meta.width}x${meta.height}`;
  });
  return out;
}

describe('planRenditions matches what renderRenditions really outputs', () => {
  it.each(ODD_SIZES)('JPEG source %ix%i (shrink-on-load path), jpg + webp', async (width, height) => {
    const specs = planRenditions(width, height).filter((s) => s.format !== 'avif');
    expect(await renderedDims(await testJpeg(width, height), specs)).toEqual(dims(specs));
  });

  it.each([[1001, 667], [3, 1000], [100, 68], [1023, 1025]])('all 18 incl. AVIF, PNG source %ix%i', async (width, height) => {
    const png = await sharp({ create: { width, height, channels: 4, background: { r: 200, g: 30, b: 90, alpha: 0.5 } } }).png().toBuffer();
    const specs = planRenditions(width, height);
    expect(await renderedDims(png, specs)).toEqual(dims(specs));
  });

  it('an EXIF-rotated JPEG (orientation 6) is planned from its displayed size', async () => {
    const stored = await sharp({ create: { width: 1001, height: 667, channels: 3, background: '#345678' } })
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    const specs = planRenditions(667, 1001).filter((s) => s.format === 'jpg');
    expect(await renderedDims(stored, specs)).toEqual(dims(specs));
  });
});

describe('planRenditions matches sharp resize for inside boxes (no shrink-on-load)', () => {
  // A deterministic spread of sizes on top of the odd ones.
  let seed = 12345;
  const random = (max: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return 1 + (seed % max);
  };
  const sizes: Array<[number, number]> = [...ODD_SIZES, ...Array.from({ length: 40 }, () => [random(3000), random(3000)] as [number, number])];

  it('for every size and inside box', async () => {
    for (const [width, height] of sizes) {
      const plan = dims(planRenditions(width, height));
      for (const { size, box } of SIZE_BOXES.filter((b) => b.fit === 'inside')) {
        const { info } = await sharp({ create: { width, height, channels: 3, background: '#808080' } })
          .resize(box, box, { fit: 'inside', withoutEnlargement: true })
          .raw()
          .toBuffer({ resolveWithObject: true });
        expect(`${width}x${height} ${size}: ${info.width}x${info.height}`).toBe(`${width}x${height} ${size}: ${plan[`${size}.jpg`]}`);
      }
    }
  });
});
