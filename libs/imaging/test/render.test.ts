import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { InvalidImageError } from '@renditions/errors';
import { planRenditions } from '../src/plan';
import { decodeRenditionBase } from '../src/base';
import { CpuScheduler } from '../src/cpu-scheduler';
import { renderRenditions } from '../src/render';
import type { EncodedImage, RenditionSpec } from '../src/types';
import { readCorpus } from './corpus';
import { findMetadata } from './metadata-check';
import { meanAbsDiff, magicOf, smallRgb } from './pixels';

const MAGIC = { webp: 'webp', avif: 'avif', jpg: 'jpeg' } as const;
const MIME = { webp: 'image/webp', avif: 'image/avif', jpg: 'image/jpeg' } as const;

async function renderAll(source: Buffer, specs: RenditionSpec[]): Promise<Map<string, EncodedImage>> {
  const outputs = new Map<string, EncodedImage>();
  await renderRenditions(await decodeRenditionBase(source), specs, async (spec, output) => {
    outputs.set(`${spec.size}.${spec.format}`, output);
  });
  return outputs;
}

async function planFor(source: Buffer, formats: string[] = ['webp', 'avif', 'jpg']): Promise<RenditionSpec[]> {
  const { autoOrient } = await sharp(source).metadata();
  return planRenditions(autoOrient.width, autoOrient.height).filter((spec) => formats.includes(spec.format));
}

/** `animated`: the source is an animation, so its WebP outputs must be too (sizes are per frame). */
async function expectWellFormed(spec: RenditionSpec, output: EncodedImage, animated = false): Promise<void> {
  expect(magicOf(output.data)).toBe(MAGIC[spec.format]);
  expect(output.mime).toBe(MIME[spec.format]);
  const meta = await sharp(output.data).metadata();
  const frameHeight = meta.pageHeight ?? meta.height;
  expect([meta.width, frameHeight, output.width, output.height]).toEqual([spec.width, spec.height, spec.width, spec.height]);
  if (animated && spec.format === 'webp') expect(meta.pages).toBeGreaterThan(1);
  else expect(meta.pages ?? 1).toBe(1);
  expect(meta.icc).toBeUndefined(); // pixels are sRGB; no profile needed
  expect(await findMetadata(output.data)).toEqual([]);
}

describe('renderRenditions on the 12 MP photo', () => {
  const photo = readCorpus('photos/42_IndexError.jpg');

  it('renders the 12 jpg + webp outputs, well formed, exact size, no metadata', async () => {
    const specs = await planFor(photo, ['jpg', 'webp']);
    await renderAll(photo, specs); // warm-up (code paths, libvips caches)
    const start = performance.now();
    const outputs = await renderAll(photo, specs);
    const elapsed = performance.now() - start;
    console.info(`renderRenditions 12 jpg+webp, 12 MP JPEG: ${elapsed.toFixed(0)} ms`);
    expect(outputs.size).toBe(12);
    for (const spec of specs) await expectWellFormed(spec, outputs.get(`${spec.size}.${spec.format}`)!);
  });

  it('renders the 6 AVIF outputs', async () => {
    const specs = await planFor(photo, ['avif']);
    const start = performance.now();
    const outputs = await renderAll(photo, specs);
    const elapsed = performance.now() - start;
    console.info(`renderRenditions 6 avif, 12 MP JPEG: ${elapsed.toFixed(0)} ms`);
    for (const spec of specs) await expectWellFormed(spec, outputs.get(`${spec.size}.${spec.format}`)!);
  });

  it('looks like the source (h, m and the b crop) and is not visibly degraded', async () => {
    const specs = await planFor(photo, ['jpg', 'webp', 'avif']);
    const chosen = specs.filter((s) => s.size === 'h' || s.size === 'm');
    const outputs = await renderAll(photo, chosen);
    const reference = await smallRgb(photo, 64, 48);
    for (const [name, output] of outputs) {
      expect(meanAbsDiff(await smallRgb(output.data, 64, 48), reference), name).toBeLessThan(4);
    }
  });
});

describe('renderRenditions: the cover crop is the centred square of the whole image', () => {
  it('matches a centred crop of the displayed source', async () => {
    const source = readCorpus('photos/HMD_Nokia_8.3_5G.jpg'); // 4608x1976: a wide crop
    const outputs = await renderAll(source, (await planFor(source, ['webp'])).filter((s) => s.size === 'b'));
    const side = 1976;
    const reference = await sharp(source).extract({ left: Math.round((4608 - side) / 2), top: 0, width: side, height: side }).png().toBuffer();
    expect(meanAbsDiff(await smallRgb(outputs.get('b.webp')!.data, 32, 32), await smallRgb(reference, 32, 32))).toBeLessThan(4);
  });
});

describe('renderRenditions: auto-orientation', () => {
  const TARGET = { size: 't', format: 'webp' } as const;
  const SPECS: RenditionSpec[] = [
    { ...TARGET, width: 160, height: 107 },
    { size: 'b', format: 'jpg', width: 160, height: 160 },
  ];

  async function renditionPixels(file: string): Promise<{ t: Buffer; b: Buffer }> {
    const outputs = await renderAll(readCorpus(file), SPECS);
    return {
      t: await smallRgb(outputs.get('t.webp')!.data, 48, 32),
      b: await smallRgb(outputs.get('b.jpg')!.data, 32, 32),
    };
  }

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('orientation/Landscape_%i.jpg comes out upright like Landscape_0', async (n) => {
    const upright = await renditionPixels('orientation/Landscape_0.jpg');
    const oriented = await renditionPixels(`orientation/Landscape_${n}.jpg`);
    const wrong = await smallRgb(await sharp(readCorpus('orientation/Landscape_0.jpg')).rotate(180).flop().toBuffer(), 48, 32);
    const right = meanAbsDiff(oriented.t, upright.t);
    const mirrored = meanAbsDiff(wrong, upright.t);
    expect(right).toBeLessThan(3);
    expect(mirrored).toBeGreaterThan(20);
    expect(meanAbsDiff(oriented.b, upright.b)).toBeLessThan(3);
  });
});

describe('renderRenditions: colour', () => {
  it('converts the CMYK JPEG to sRGB through its profile, not inverted', async () => {
    const source = readCorpus('formats/Channel_digital_image_CMYK_color.jpg');
    const outputs = await renderAll(source, (await planFor(source)).filter((s) => s.size === 'h'));
    const reference = await smallRgb(source, 50, 33);
    const inverted = Buffer.from(reference.map((v) => 255 - v));
    for (const [name, output] of outputs) {
      expect((await sharp(output.data).metadata()).space, name).toBe('srgb');
      const pixels = await smallRgb(output.data, 50, 33);
      expect(meanAbsDiff(pixels, reference), name).toBeLessThan(4);
      expect(meanAbsDiff(pixels, inverted), name).toBeGreaterThan(40);
    }
  });

  it('widens greyscale and 16-bit sources to 8-bit sRGB', async () => {
    for (const file of ['formats/concert.jpg', 'formats/tbgn2c16.png']) {
      const source = readCorpus(file);
      const outputs = await renderAll(source, (await planFor(source)).filter((s) => s.size === 't'));
      for (const [name, output] of outputs) {
        const meta = await sharp(output.data).metadata();
        expect(meta.space, `${file} ${name}`).toBe('srgb');
        expect(meta.depth, `${file} ${name}`).toBe('uchar');
      }
    }
  });

  it('keeps alpha in webp and avif, flattens it onto white in jpg', async () => {
    const source = readCorpus('formats/5_webp_a.webp'); // 300x300, partly fully transparent
    const { data, info } = await sharp(source).raw().toBuffer({ resolveWithObject: true });
    const transparent = data.findIndex((_, i) => i % 4 === 3 && data[i] === 0);
    expect(transparent).toBeGreaterThan(0);
    const pixel = (transparent - 3) / 4;
    const [x, y] = [pixel % info.width, Math.floor(pixel / info.width)];
    const outputs = await renderAll(source, (await planFor(source)).filter((s) => s.size === 'h')); // 300x300: unscaled
    for (const format of ['webp', 'avif']) {
      const meta = await sharp(outputs.get(`h.${format}`)!.data).metadata();
      expect(meta.hasAlpha, format).toBe(true);
    }
    const jpg = await sharp(outputs.get('h.jpg')!.data).raw().toBuffer({ resolveWithObject: true });
    expect(jpg.info.channels).toBe(3);
    const at = (y * jpg.info.width + x) * 3;
    expect([...jpg.data.subarray(at, at + 3)].every((v) => v > 245)).toBe(true);
  });
});

describe('renderRenditions: other inputs', () => {
  it.each([
    'formats/rotating-squares.gif', 'formats/rotating-squares.webp', 'formats/hopper.gif', 'formats/4.webp',
    'formats/5_webp_a.webp', 'orientation/hopper_orientation_6.webp', 'orientation/rot1mir0.avif',
    'formats/tiff_adobe_deflate.tif', 'formats/testimgari.jpg', 'formats/32-lens_data.jpeg', 'formats/blackbug.png',
    'formats/gain-map.jpg', 'photos/Canon_40D.jpg',
  ])('%s renders all 18 well formed', async (file) => {
    const source = readCorpus(file);
    const specs = await planFor(source);
    const outputs = await renderAll(source, specs);
    const animated = ((await sharp(source).metadata()).pages ?? 1) > 1 && !file.endsWith('.avif');
    expect(outputs.size).toBe(18);
    for (const spec of specs) await expectWellFormed(spec, outputs.get(`${spec.size}.${spec.format}`)!, animated);
  });
});

describe('renderRenditions: animations', () => {
  it.each(['formats/rotating-squares.gif', 'formats/rotating-squares.webp'])('%s: jpg and avif are its first frame', async (file) => {
    const source = readCorpus(file);
    const outputs = await renderAll(source, [
      { size: 'h', format: 'jpg', width: 80, height: 80 },
      { size: 'h', format: 'avif', width: 80, height: 80 },
    ]);
    const firstFrame = await smallRgb(await sharp(source).png().toBuffer(), 40, 40);
    const laterFrame = await smallRgb(await sharp(source, { page: 5 }).png().toBuffer(), 40, 40);
    for (const format of ['jpg', 'avif']) {
      const rendered = await smallRgb(outputs.get(`h.${format}`)!.data, 40, 40);
      const first = meanAbsDiff(rendered, firstFrame);
      expect(first, format).toBeLessThan(3);
      // Frames differ by ~7 on average (small squares turning), so "close to frame 0" must also mean "far from frame 5".
      expect(first, format).toBeLessThan(meanAbsDiff(rendered, laterFrame) / 2);
    }
  });

  it('webp outputs stay animated: every frame scaled, the timing kept', async () => {
    const source = readCorpus('formats/rotating-squares.webp'); // 9 frames of 80x80
    const outputs = await renderAll(source, [
      { size: 'm', format: 'webp', width: 80, height: 80 },
      { size: 't', format: 'webp', width: 50, height: 50 },
    ]);
    const sourceMeta = await sharp(source).metadata();
    for (const [name, size] of [['m.webp', 80], ['t.webp', 50]] as const) {
      const output = outputs.get(name)!;
      expect([output.width, output.height], name).toEqual([size, size]);
      const meta = await sharp(output.data, { animated: true }).metadata();
      expect({ width: meta.width, pageHeight: meta.pageHeight, pages: meta.pages }, name).toEqual({ width: size, pageHeight: size, pages: 9 });
      expect(meta.delay, name).toEqual(sourceMeta.delay);
      expect(meta.loop, name).toBe(sourceMeta.loop);
      for (const page of [0, 5]) {
        const expected = await smallRgb(await sharp(source, { page }).png().toBuffer(), 40, 40);
        const actual = await smallRgb(await sharp(output.data, { page }).png().toBuffer(), 40, 40);
        expect(meanAbsDiff(actual, expected), `${name} frame ${page}`).toBeLessThan(6);
      }
    }
  });

  it('crops each frame of a wide animation to its centred square for cover sizes', async () => {
    const colours = ['#ff0000', '#00ff00', '#0000ff'];
    // 120x60 frames: the left and right thirds black, the centred square the frame's colour.
    const frames = await Promise.all(
      colours.map((colour) =>
        sharp({ create: { width: 120, height: 60, channels: 3, background: '#000000' } })
          .composite([{ input: { create: { width: 60, height: 60, channels: 3, background: colour } }, left: 30, top: 0 }])
          .png()
          .toBuffer(),
      ),
    );
    const gif = await sharp(frames, { join: { animated: true } }).gif({ delay: 100 }).toBuffer();
    const outputs = await renderAll(gif, [{ size: 'b', format: 'webp', width: 60, height: 60 }]);
    const output = outputs.get('b.webp')!.data;
    expect((await sharp(output).metadata()).pages).toBe(3);
    for (const [page, colour] of colours.entries()) {
      const expected = await smallRgb(await sharp({ create: { width: 60, height: 60, channels: 3, background: colour } }).png().toBuffer(), 8, 8);
      expect(meanAbsDiff(await smallRgb(await sharp(output, { page }).png().toBuffer(), 8, 8), expected), colour).toBeLessThan(12);
    }
  });
});

describe('renderRenditions: scheduling and failures', () => {
  it('encodes smallest first, every JPEG and WebP before any AVIF', async () => {
    const source = readCorpus('photos/DSCN0010.jpg');
    const order: string[] = [];
    const base = await decodeRenditionBase(source);
    await renderRenditions(base, await planFor(source), async (spec) => void order.push(`${spec.size}.${spec.format}`), {
      scheduler: new CpuScheduler(1),
    });
    expect(order).toHaveLength(18);
    expect(order.slice(0, 2).sort()).toEqual(['s.jpg', 's.webp']);
    const lastCheap = Math.max(...order.map((name, index) => (name.endsWith('.avif') ? -1 : index)));
    const firstAvif = order.findIndex((name) => name.endsWith('.avif'));
    expect(lastCheap).toBeLessThan(firstAvif);
    expect(order[12]).toBe('s.avif');
  });

  it('runs one asset\'s AVIFs after a later asset\'s JPEG/WebP on a shared scheduler', async () => {
    const scheduler = new CpuScheduler(1);
    const order: string[] = [];
    const first = readCorpus('photos/DSCN0010.jpg');
    const second = readCorpus('photos/Canon_40D.jpg');
    const [firstBase, secondBase] = await Promise.all([decodeRenditionBase(first), decodeRenditionBase(second)]);
    await Promise.all([
      renderRenditions(firstBase, await planFor(first, ['avif']), async (spec) => void order.push(`first ${spec.format}`), { scheduler }),
      renderRenditions(secondBase, await planFor(second, ['jpg', 'webp']), async (spec) => void order.push(`second ${spec.format}`), { scheduler }),
    ]);
    // The first AVIF was already running when the second asset's outputs arrived; none after it waits.
    expect(order.slice(1, 13).every((name) => name.startsWith('second'))).toBe(true);
  });

  it('stops starting outputs after onRendered fails, and rethrows that error', async () => {
    const source = readCorpus('photos/DSCN0010.jpg');
    let calls = 0;
    const failure = new Error('storage down');
    await expect(
      renderRenditions(await decodeRenditionBase(source), await planFor(source, ['jpg', 'webp']), async () => {
        calls += 1;
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(calls).toBeLessThanOrEqual(2); // the two encodes in flight each fail once, nothing else starts
  });

  it('refuses specs larger than the source, of another aspect ratio, or non-square squares', async () => {
    const source = readCorpus('photos/Canon_40D.jpg'); // 100x68
    const base = await decodeRenditionBase(source);
    const render = (spec: RenditionSpec) => renderRenditions(base, [spec], async () => {});
    await expect(render({ size: 'l', format: 'jpg', width: 640, height: 435 })).rejects.toThrow(
      /Expected a l rendition no larger than, and with the aspect ratio of the 100x68 source; got 640x435/,
    );
    await expect(render({ size: 't', format: 'jpg', width: 50, height: 50 })).rejects.toThrow(RangeError);
    await expect(render({ size: 's', format: 'jpg', width: 90, height: 68 })).rejects.toThrow(
      /Expected a s rendition square no larger than the short side of the 100x68 source; got 90x68/,
    );
    await expect(render({ size: 't', format: 'jpg', width: 50, height: 34 })).resolves.toBeUndefined(); // 50x34 is 100x68 halved
  });

  it('refuses undecodable bytes with InvalidImageError when decoding the base', async () => {
    await expect(decodeRenditionBase(readCorpus('bad/truncated.jpg'))).rejects.toBeInstanceOf(InvalidImageError);
    await expect(decodeRenditionBase(Buffer.from('nope'))).rejects.toBeInstanceOf(InvalidImageError);
  });
});
