/**
 * `npm run bench:quality`: bytes and encode time of each rendition format at equal perceptual quality.
 *
 * For each corpus photo and rendition size, the source goes through the product's own decode path (failOn
 * error, auto-orient, one shrink-on-load resize to the `h` base, sRGB, 8-bit raw; the smaller sizes resized from
 * that base with fit 'fill') and a check confirms it: the lib's `renderRenditions` must give byte-identical JPEGs.
 * Every encoder setting of the sweep then encodes that same raw base; the output is decoded and compared with
 * the base (written as a lossless PNG) by butteraugli (`butteraugli_main`, Debian `libjxl-devtools`): max-norm
 * distance and 3-norm, lower is better.
 *
 * Target: per photo and size, the distance of the JPEG at the settings before issue 9 (q82 mozjpeg). A setting
 * qualifies at a size when the median over the photos of (its distance / that target) is <= 1.05 (WebP, AVIF)
 * or <= 1.00 (JPEG: no worse than before). Bytes are compared with that JPEG, encode time with the same
 * format's setting before issue 9, both as medians over the photos of per-photo ratios.
 *
 * Encode time is process CPU time (median of --reps, reps interleaved so that drift in the machine's load hits
 * every setting alike), with sharp at concurrency 1: one encode, one thread, as in BASELINE.md. On a shared
 * machine only the ratios within one run mean anything.
 *
 * Usage: tsx scripts/bench/quality.ts [--photos photos/a.jpg,kodak/b.png] [--sizes h,l,m,t] [--reps 3]
 *        [--out table.md] [--json raw.json]
 * Takes 5-7 minutes with the defaults on 2 busy cores. Temp files go to one directory, removed at the end.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import sharp, { type AvifOptions, type JpegOptions, type Sharp, type WebpOptions } from 'sharp';
import {
  AVIF_OPTIONS,
  JPEG_BACKGROUND,
  JPEG_OPTIONS,
  WEBP_OPTIONS,
  planRenditions,
  decodeRenditionBase, renderRenditions,
  type RenditionFormat,
  type RenditionSize,
  type RenditionSpec,
} from '@renditions/imaging';
import { corpusPath } from '../../test/support/corpus';

const run = promisify(execFile);

const DEFAULT_PHOTOS = [
  'photos/42_IndexError.jpg', // 12 MP, Olympus E-P3: street, fine detail
  'photos/HMD_Nokia_8.3_5G.jpg', // 9 MP phone, 2.3:1 panorama
  'photos/jolla.jpg', // 8 MP phone
  'photos/canon_hdr_NO.jpg', // 3 MP, EXIF orientation 6 (portrait once upright)
  'kodak/kodim05.png', // film scan: motorbikes, dense texture
  'kodak/kodim23.png', // film scan: parrots, saturated colour and smooth background
];
/** The inside sizes; s and b are centre crops at 90 and 160 px, t stands for the tiny ones. */
const DEFAULT_SIZES: RenditionSize[] = ['h', 'l', 'm', 't'];

type Options =
  | { format: 'jpg'; options: JpegOptions }
  | { format: 'webp'; options: WebpOptions }
  | { format: 'avif'; options: AvifOptions };

type Setting = Options & { label: string; family: string; quality: number };

/** The settings before issue 9: the reference for distance (JPEG), bytes and encode time. */
const BEFORE: Readonly<Record<RenditionFormat, Setting>> = {
  jpg: setting({ format: 'jpg', options: { quality: 82, mozjpeg: true } }),
  webp: setting({ format: 'webp', options: { quality: 80, effort: 4 } }),
  avif: setting({ format: 'avif', options: { quality: 50, effort: 2, chromaSubsampling: '4:2:0' } }),
};

/** Median distance ratio to the JPEG q82 target a setting may have and still qualify. */
const TOLERANCE: Readonly<Record<RenditionFormat, number>> = { jpg: 1.0, webp: 1.05, avif: 1.05 };
/** The issue's goals: bytes at equal distance, as a fraction of the JPEG's. */
const BYTES_GOAL: Readonly<Partial<Record<RenditionFormat, number>>> = { webp: 0.6, avif: 0.5 };
/**
 * Encode-time budget for the recommendation, against the same format before issue 9 (whole rendition set).
 * AVIF may cost more (the issue: one decode per asset pays for a dearer AVIF), within reason: the run prints
 * the extra encode CPU per image in decodes of that image. WebP is a small part of the bill, but not free.
 */
const TIME_BUDGET: Readonly<Record<RenditionFormat, number>> = { jpg: 1.1, webp: 1.25, avif: 1.6 };

function sweep(): Setting[] {
  const list: Options[] = [];
  for (const quality of [70, 74, 78, 80, 82, 84, 86, 90]) list.push({ format: 'jpg', options: { quality, mozjpeg: true } });
  // Variants at one or two points each: enough to place them against the main sweeps at equal quality.
  list.push({ format: 'jpg', options: { quality: 82, mozjpeg: true, chromaSubsampling: '4:4:4' } });
  for (const quality of [60, 65, 70, 75, 78, 80, 85, 90]) list.push({ format: 'webp', options: { quality, effort: 4 } });
  list.push({ format: 'webp', options: { quality: 80, effort: 6 } });
  list.push({ format: 'webp', options: { quality: 80, effort: 4, smartSubsample: true } });
  // AVIF: effort e is libaom speed 9 - e (cpu-used). Effort 2 4:2:0 was the setting before; it gets the full sweep.
  for (const quality of [40, 50, 55, 60, 64, 67, 70, 73, 76, 80]) {
    list.push({ format: 'avif', options: { quality, effort: 2, chromaSubsampling: '4:2:0' } });
  }
  for (const quality of [67, 70]) list.push({ format: 'avif', options: { quality, effort: 2, chromaSubsampling: '4:4:4' } });
  for (const quality of [64, 67, 70, 73, 76, 80]) list.push({ format: 'avif', options: { quality, effort: 1, chromaSubsampling: '4:2:0' } });
  for (const quality of [67, 70, 73, 76, 80]) list.push({ format: 'avif', options: { quality, effort: 0, chromaSubsampling: '4:2:0' } });
  for (const quality of [60, 64, 67]) list.push({ format: 'avif', options: { quality, effort: 3, chromaSubsampling: '4:2:0' } });
  // Effort 4 costs ~8x effort 2: one point shows where it stands.
  list.push({ format: 'avif', options: { quality: 60, effort: 4, chromaSubsampling: '4:2:0' } });
  // The lib's current settings (encoders.ts), so every run shows them; duplicates collapse by label.
  list.push({ format: 'jpg', options: JPEG_OPTIONS }, { format: 'webp', options: WEBP_OPTIONS }, { format: 'avif', options: AVIF_OPTIONS });
  const byLabel = new Map<string, Setting>();
  for (const options of [...Object.values(BEFORE), ...list.map(setting)]) byLabel.set(options.label, options);
  return [...byLabel.values()];
}

/** Labels name every option that differs from the sweep's defaults (mozjpeg, WebP effort 4, sharp's AVIF chroma). */
function setting(options: Options): Setting {
  const { family, quality } = describe(options);
  return { ...options, family, quality, label: `${family} q${quality}` } as Setting;
}

function describe(options: Options): { family: string; quality: number } {
  switch (options.format) {
    case 'jpg': {
      const o = options.options;
      const extra = [o.mozjpeg ? 'mozjpeg' : 'libjpeg', o.chromaSubsampling === '4:4:4' ? '4:4:4' : '4:2:0'];
      if (o.optimiseScans === false) extra.push('plain scans');
      return { family: `jpg ${extra.join(' ')}`, quality: o.quality ?? 80 };
    }
    case 'webp': {
      const o = options.options;
      return { family: `webp e${o.effort ?? 4}${o.smartSubsample ? ' sharp-yuv' : ''}`, quality: o.quality ?? 80 };
    }
    case 'avif': {
      const o = options.options;
      return { family: `avif e${o.effort ?? 4} ${o.chromaSubsampling ?? '4:4:4'}`, quality: o.quality ?? 50 };
    }
  }
}

function encoder(pipeline: Sharp, s: Setting): Sharp {
  switch (s.format) {
    case 'jpg':
      return pipeline.flatten({ background: JPEG_BACKGROUND }).jpeg(s.options);
    case 'webp':
      return pipeline.webp(s.options);
    case 'avif':
      return pipeline.avif(s.options);
  }
}

interface RawImage {
  data: Buffer;
  info: { width: number; height: number; channels: 1 | 2 | 3 | 4 };
}

interface Measure {
  bytes: number;
  cpuMs: number;
  wallMs: number;
  distance: number;
  pnorm3: number;
}

/** results[photo][size][label], and per photo the CPU time of the product's decode (median of reps). */
type Results = Record<string, Partial<Record<RenditionSize, Record<string, Measure>>>>;
type Decodes = Record<string, { megapixels: number; decodeCpuMs: number }>;

/**
 * The product's base (render.ts `decodeBase`): the displayed size from the header's orientation, one decode
 * with shrink-on-load straight to the largest inside rendition, sRGB, 8-bit; then each smaller inside size
 * resized from it with fit 'fill', as `encodeFromBase` does in the same pipeline as the encode.
 */
async function productBases(
  source: Buffer,
  sizes: RenditionSize[],
): Promise<{ specs: RenditionSpec[]; bases: Map<RenditionSize, RawImage>; megapixels: number; decodeCpuMs: number }> {
  const meta = await sharp(source).metadata();
  const orientation = meta.orientation ?? 1;
  const displayed = orientation >= 5 ? { width: meta.height, height: meta.width } : { width: meta.width, height: meta.height };
  const inside = planRenditions(displayed.width, displayed.height).filter((spec) => spec.format === 'jpg' && !['s', 'b'].includes(spec.size));
  const largest = inside.find((spec) => spec.size === 'h')!;
  let pipeline = sharp(source, { failOn: 'error' });
  if (orientation !== 1) pipeline = pipeline.rotate();
  if (largest.width !== displayed.width || largest.height !== displayed.height) {
    pipeline = pipeline.resize(largest.width, largest.height, { fit: 'fill', fastShrinkOnLoad: true });
  }
  const cpuBefore = process.cpuUsage();
  const top = (await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true })) as RawImage;
  const cpu = process.cpuUsage(cpuBefore);
  const bases = new Map<RenditionSize, RawImage>();
  for (const spec of inside.filter((s) => sizes.includes(s.size))) {
    if (spec.width === top.info.width && spec.height === top.info.height) {
      bases.set(spec.size, top);
      continue;
    }
    const scaled = await sharp(top.data, { raw: top.info }).resize(spec.width, spec.height, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    bases.set(spec.size, scaled as RawImage);
  }
  return { specs: inside, bases, megapixels: (meta.width * meta.height) / 1e6, decodeCpuMs: (cpu.user + cpu.system) / 1000 };
}

/** Process CPU time (all threads: libvips encodes on the libuv pool) and wall time of one encode. */
async function timedEncode(base: RawImage, s: Setting): Promise<{ data: Buffer; cpuMs: number; wallMs: number }> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const data = await encoder(sharp(base.data, { raw: base.info }), s).toBuffer();
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { data, cpuMs: (cpu.user + cpu.system) / 1000, wallMs };
}

async function butteraugli(binary: string, reference: string, distorted: string): Promise<{ distance: number; pnorm3: number }> {
  const { stdout } = await run(binary, [reference, distorted]);
  const distance = Number(stdout.trim().split('\n')[0]);
  const pnorm3 = Number(/3-norm:\s*([\d.]+)/.exec(stdout)?.[1]);
  if (!Number.isFinite(distance) || !Number.isFinite(pnorm3)) throw new Error(`unexpected butteraugli output: ${stdout}`);
  return { distance, pnorm3 };
}

async function inPool<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: limit }, lane));
  return results;
}

async function studyPhoto(
  file: string,
  sizes: RenditionSize[],
  settings: Setting[],
  reps: number,
  binary: string,
  tmp: string,
): Promise<{ bySize: Partial<Record<RenditionSize, Record<string, Measure>>>; megapixels: number; decodeCpuMs: number }> {
  const source = await readFile(corpusPath(file));
  const { specs, bases, megapixels } = await productBases(source, sizes);
  // The unit the images-per-minute estimate is counted in: one decode of this source the way the product does it.
  const decodes: number[] = [];
  for (let rep = 0; rep < reps; rep += 1) decodes.push((await productBases(source, ['h'])).decodeCpuMs);

  // Encode: every setting once per rep, reps interleaved; CPU medians; bytes of the first rep.
  const outputs = new Map<string, Buffer>();
  const times = new Map<string, { cpu: number[]; wall: number[] }>();
  for (let rep = 0; rep < reps; rep += 1) {
    for (const size of sizes) {
      for (const s of settings) {
        const key = `${size}|${s.label}`;
        const { data, cpuMs, wallMs } = await timedEncode(bases.get(size)!, s);
        if (rep === 0) outputs.set(key, data);
        else if (outputs.get(key)!.length !== data.length) throw new Error(`${file} ${key}: encoder not deterministic`);
        const entry = times.get(key) ?? { cpu: [], wall: [] };
        entry.cpu.push(cpuMs);
        entry.wall.push(wallMs);
        times.set(key, entry);
      }
    }
  }

  // The base must be what the pipeline renders: the lib's renderRenditions, same specs, same JPEG bytes.
  const libJpeg = setting({ format: 'jpg', options: JPEG_OPTIONS }).label;
  const rendered = new Map<RenditionSize, Buffer>();
  await renderRenditions(await decodeRenditionBase(source), specs, async (spec, output) => void rendered.set(spec.size, output.data));
  for (const size of sizes) {
    if (!rendered.get(size)!.equals(outputs.get(`${size}|${libJpeg}`)!)) {
      throw new Error(`${file} ${size}: the study's base differs from renderRenditions' (JPEG bytes differ)`);
    }
  }

  // Distances: each output decoded to PNG and compared with its base, two butteraugli processes at a time.
  const stem = path.join(tmp, path.basename(file).replace(/\W/g, '_'));
  for (const size of sizes) {
    const base = bases.get(size)!;
    await sharp(base.data, { raw: base.info }).png({ compressionLevel: 1 }).toFile(`${stem}.${size}.ref.png`);
  }
  const keys = [...outputs.keys()];
  const distances = await inPool(
    keys.map((key, index) => async () => {
      const [size] = key.split('|') as [RenditionSize];
      const decoded = `${stem}.${index}.png`;
      await sharp(outputs.get(key)!).png({ compressionLevel: 1 }).toFile(decoded);
      try {
        return await butteraugli(binary, `${stem}.${size}.ref.png`, decoded);
      } finally {
        await rm(decoded, { force: true });
      }
    }),
    2,
  );
  for (const size of sizes) await rm(`${stem}.${size}.ref.png`, { force: true });

  const bySize: Partial<Record<RenditionSize, Record<string, Measure>>> = {};
  keys.forEach((key, index) => {
    const [size, label] = key.split('|') as [RenditionSize, string];
    const t = times.get(key)!;
    (bySize[size] ??= {})[label] = {
      bytes: outputs.get(key)!.length,
      cpuMs: median(t.cpu),
      wallMs: median(t.wall),
      ...distances[index]!,
    };
  });
  return { bySize, megapixels, decodeCpuMs: median(decodes) };
}

// ---------------------------------------------------------------- analysis

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface SizeRow {
  label: string;
  family: string;
  format: RenditionFormat;
  quality: number;
  /** Medians over photos of per-photo ratios. */
  distance: number;
  pnorm3: number;
  bytesVsJpeg: number;
  bytesVsBefore: number;
  timeVsBefore: number;
  /** Medians over photos, absolute. */
  medianDistance: number;
  medianBytes: number;
  medianCpuMs: number;
  qualifies: boolean;
}

function sizeRows(results: Results, photos: string[], size: RenditionSize, settings: Setting[]): SizeRow[] {
  return settings.map((s) => {
    const per = (f: (m: Measure, jpeg: Measure, before: Measure) => number) =>
      median(photos.map((p) => {
        const row = results[p]![size]!;
        return f(row[s.label]!, row[BEFORE.jpg.label]!, row[BEFORE[s.format].label]!);
      }));
    const distance = per((m, j) => m.distance / j.distance);
    return {
      label: s.label,
      family: s.family,
      format: s.format,
      quality: s.quality,
      distance,
      pnorm3: per((m, j) => m.pnorm3 / j.pnorm3),
      bytesVsJpeg: per((m, j) => m.bytes / j.bytes),
      bytesVsBefore: per((m, _j, b) => m.bytes / b.bytes),
      timeVsBefore: per((m, _j, b) => m.cpuMs / b.cpuMs),
      medianDistance: per((m) => m.distance),
      medianBytes: per((m) => m.bytes),
      medianCpuMs: per((m) => m.cpuMs),
      qualifies: distance <= TOLERANCE[s.format] + 1e-9,
    };
  });
}

/**
 * A family's cheapest qualifying setting at one size: the lowest swept quality from which every higher one
 * qualifies too. Butteraugli's max-norm is the worst spot of the image, so it is not monotonic in quality (a
 * lower quality can land below a higher one by luck); requiring the higher ones keeps such a dip from deciding.
 */
function lowestQualifying(rows: SizeRow[], family: string): SizeRow | undefined {
  const members = rows.filter((r) => r.family === family).sort((a, b) => a.quality - b.quality);
  let lowest: SizeRow | undefined;
  for (let i = members.length - 1; i >= 0 && members[i]!.qualifies; i -= 1) lowest = members[i];
  return lowest;
}

/** One setting of a family for every size: the highest of the per-size lowest qualifying qualities. */
interface FamilyChoice {
  family: string;
  format: RenditionFormat;
  setting?: Setting;
  /** Lowest qualifying quality per size (undefined: none in the sweep). */
  perSize: Partial<Record<RenditionSize, number>>;
  /** Whole-set medians over photos (sum over the sizes studied). */
  bytesVsJpeg?: number;
  bytesVsBefore?: number;
  timeVsBefore?: number;
  /** Set bytes with a per-size quality instead, relative to the one setting. */
  perSizeBytesGain?: number;
}

function setTotal(results: Results, photo: string, sizes: RenditionSize[], label: (size: RenditionSize) => string, field: 'bytes' | 'cpuMs'): number {
  return sizes.reduce((sum, size) => sum + results[photo]![size]![label(size)]![field], 0);
}

function familyChoices(results: Results, photos: string[], sizes: RenditionSize[], settings: Setting[], rows: Map<RenditionSize, SizeRow[]>): FamilyChoice[] {
  const families = [...new Set(settings.map((s) => s.family))];
  return families.map((family) => {
    const members = settings.filter((s) => s.family === family).sort((a, b) => a.quality - b.quality);
    const format = members[0]!.format;
    const perSize: FamilyChoice['perSize'] = {};
    for (const size of sizes) perSize[size] = lowestQualifying(rows.get(size)!, family)?.quality;
    const needed = Object.values(perSize);
    if (needed.length < sizes.length || needed.some((q) => q === undefined)) return { family, format, perSize };
    const chosen = members.find((s) => s.quality === Math.max(...(needed as number[])))!;
    const ratio = (label: (size: RenditionSize) => string, reference: (size: RenditionSize) => string, field: 'bytes' | 'cpuMs') =>
      median(photos.map((p) => setTotal(results, p, sizes, label, field) / setTotal(results, p, sizes, reference, field)));
    const perSizeLabel = (size: RenditionSize) => members.find((s) => s.quality === perSize[size])!.label;
    return {
      family,
      format,
      setting: chosen,
      perSize,
      bytesVsJpeg: ratio(() => chosen.label, () => BEFORE.jpg.label, 'bytes'),
      bytesVsBefore: ratio(() => chosen.label, () => BEFORE[format].label, 'bytes'),
      timeVsBefore: ratio(() => chosen.label, () => BEFORE[format].label, 'cpuMs'),
      perSizeBytesGain: 1 - ratio(perSizeLabel, () => chosen.label, 'bytes'),
    };
  });
}

/** Bytes the recommendation gives up for a faster family: up to this fraction more than the fewest. */
const BYTES_FOR_SPEED = 0.05;

/**
 * Per format, among the families with one qualifying setting for every size and within the time budget: the
 * fastest that meets the bytes goal; if none does, the fastest whose bytes are within 5% of the fewest.
 */
function recommend(choices: FamilyChoice[], format: RenditionFormat): FamilyChoice | undefined {
  const viable = choices.filter((c) => c.format === format && c.setting && c.timeVsBefore! <= TIME_BUDGET[format]);
  if (viable.length === 0) return undefined;
  const goal = BYTES_GOAL[format];
  const fewest = Math.min(...viable.map((c) => c.bytesVsJpeg!));
  const meeting = goal === undefined ? [] : viable.filter((c) => c.bytesVsJpeg! <= goal * 1.05);
  const pool = meeting.length > 0 ? meeting : viable.filter((c) => c.bytesVsJpeg! <= fewest * (1 + BYTES_FOR_SPEED));
  return pool.sort((a, b) => a.timeVsBefore! - b.timeVsBefore! || a.bytesVsJpeg! - b.bytesVsJpeg!)[0];
}

// ---------------------------------------------------------------- report

const x = (value: number | undefined) => (value === undefined ? '-' : `${value.toFixed(2)}x`);
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

function table(head: string[], body: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function report(results: Results, decodes: Decodes, photos: string[], sizes: RenditionSize[], settings: Setting[], reps: number): { full: string; summary: string } {
  const rows = new Map(sizes.map((size) => [size, sizeRows(results, photos, size, settings)] as const));
  const choices = familyChoices(results, photos, sizes, settings, rows);
  const picks = (['jpg', 'webp', 'avif'] as const).map((format) => [format, recommend(choices, format)] as const);

  const full = sizes
    .map((size) => {
      const body = rows.get(size)!.map((r) => [
        r.label + (r.label === BEFORE[r.format].label ? ' (before)' : ''),
        r.medianDistance.toFixed(2),
        x(r.distance) + (r.qualifies ? '' : ' ✗'),
        x(r.pnorm3),
        kb(r.medianBytes),
        x(r.bytesVsJpeg),
        `${r.medianCpuMs.toFixed(0)} ms`,
        x(r.timeVsBefore),
      ]);
      return `### ${size}\n\n${table(['setting', 'distance', 'vs JPEG q82', '3-norm vs JPEG', 'bytes', 'bytes vs JPEG q82', 'encode CPU', 'time vs before'], body)}`;
    })
    .join('\n\n');

  // Per size: each family's cheapest qualifying setting (its lowest qualifying quality).
  const perSize = table(
    ['size', 'family', 'lowest qualifying q', 'distance vs JPEG q82', '3-norm', 'bytes vs JPEG q82', 'time vs before'],
    sizes.flatMap((size) =>
      [...new Set(settings.map((s) => s.family))].map((family) => {
        const hit = lowestQualifying(rows.get(size)!, family);
        return hit
          ? [size, family, String(hit.quality), x(hit.distance), x(hit.pnorm3), x(hit.bytesVsJpeg), x(hit.timeVsBefore)]
          : [size, family, 'none in sweep', '-', '-', '-', '-'];
      }),
    ),
  );

  const before = table(
    ['size', ...(['jpg', 'webp', 'avif'] as const).map((f) => `${BEFORE[f].label}: distance / bytes vs JPEG`)],
    sizes.map((size) => [
      size,
      ...(['jpg', 'webp', 'avif'] as const).map((f) => {
        const r = rows.get(size)!.find((row) => row.label === BEFORE[f].label)!;
        return `${r.medianDistance.toFixed(2)} (${x(r.distance)}) / ${x(r.bytesVsJpeg)}`;
      }),
    ]),
  );

  const oneSetting = table(
    ['family', 'one setting for all sizes', 'lowest q per size', 'set bytes vs JPEG q82', 'vs before (same format)', 'set encode time vs before', 'per-size q would save'],
    choices.map((c) => [
      c.family,
      c.setting ? `q${c.setting.quality}` : 'none in sweep',
      sizes.map((s) => `${s} ${c.perSize[s] ?? '-'}`).join(', '),
      x(c.bytesVsJpeg),
      x(c.bytesVsBefore),
      x(c.timeVsBefore),
      c.perSizeBytesGain === undefined ? '-' : `${(c.perSizeBytesGain * 100).toFixed(1)}% bytes`,
    ]),
  );

  // Images per minute: the whole encode set (sizes studied x 3 formats), chosen against before, per photo.
  const chosenLabel = (format: RenditionFormat) => picks.find(([f]) => f === format)?.[1]?.setting?.label ?? BEFORE[format].label;
  const formats = ['jpg', 'webp', 'avif'] as const;
  const setCpu = (photo: string, label: (f: RenditionFormat) => string) =>
    formats.reduce((sum, f) => sum + setTotal(results, photo, sizes, () => label(f), 'cpuMs'), 0);
  const encodeRatio = median(photos.map((p) => setCpu(p, chosenLabel) / setCpu(p, (f) => BEFORE[f].label)));
  const avifShare = median(photos.map((p) => setTotal(results, p, sizes, () => BEFORE.avif.label, 'cpuMs') / setCpu(p, (f) => BEFORE[f].label)));
  const avifRatio = median(photos.map((p) => setTotal(results, p, sizes, () => chosenLabel('avif'), 'cpuMs') / setTotal(results, p, sizes, () => BEFORE.avif.label, 'cpuMs')));

  const costs = table(
    ['photo', 'source', 'decode (the product\'s, to the h base)', 'encode set before', 'encode set recommended', 'extra per image', 'extra / decode'],
    photos.map((p) => {
      const before = setCpu(p, (f) => BEFORE[f].label);
      const after = setCpu(p, chosenLabel);
      const { megapixels, decodeCpuMs } = decodes[p]!;
      return [p, `${megapixels.toFixed(1)} MP`, `${decodeCpuMs.toFixed(0)} ms`, `${before.toFixed(0)} ms`, `${after.toFixed(0)} ms`, `${(after - before).toFixed(0)} ms`, x((after - before) / decodeCpuMs)];
    }),
  );

  const lines = picks.map(([format, pick]) => {
    if (!pick?.setting) return `- ${format}: nothing in the sweep qualifies at every size within the time budget; keep ${BEFORE[format].label}.`;
    const goal = BYTES_GOAL[format];
    const goalText = goal === undefined ? 'no worse than before' : `goal <= ${goal}x: ${pick.bytesVsJpeg! <= goal * 1.05 ? 'met' : 'NOT met'}`;
    return `- ${format}: **${pick.setting.label}** — set bytes ${x(pick.bytesVsJpeg)} the JPEG q82's (${goalText}), ${x(pick.bytesVsBefore)} of ${BEFORE[format].label}, encode time ${x(pick.timeVsBefore)} of it.`;
  });

  const summary = [
    `Butteraugli distance of each rendition to its resized source (max-norm; lower is better) on ${photos.length} corpus photos (${photos.join(', ')}), sizes ${sizes.join(', ')}; encode CPU time median of ${reps}, one thread; sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}. Ratios are medians over the photos of per-photo ratios; "before" is the same format's setting before issue 9 (${formats.map((f) => BEFORE[f].label).join(', ')}). A setting qualifies when its distance is at most the JPEG q82's (+5% for WebP and AVIF), and so does every higher quality of its family (the max-norm is not monotonic in quality).`,
    '',
    '**Before**, distance (ratio to JPEG q82) / bytes vs JPEG q82:',
    '',
    before,
    '',
    '**One setting per family for every size** (the lowest swept quality that qualifies at each size):',
    '',
    oneSetting,
    '',
    '**Per size**, each family\'s cheapest qualifying setting:',
    '',
    perSize,
    '',
    `**Recommendation** (per format: within an encode-time budget of ${formats.map((f) => `${f} ${TIME_BUDGET[f]}x`).join(', ')} the same format before, the fastest family meeting the bytes goal, else the fastest within ${BYTES_FOR_SPEED * 100}% of the fewest bytes):`,
    '',
    ...lines,
    `- Encode CPU of the ${sizes.join('+')} set, all three formats: **${x(encodeRatio)}** before (AVIF ${x(avifRatio)}, ${(avifShare * 100).toFixed(0)}% of the set before), so images per minute from encoding alone would change by about ${((1 / encodeRatio - 1) * 100).toFixed(0)}%.`,
    '',
    'Encode CPU per image against one decode of the source (the extra cost is paid back when the worker drops that many of its decodes per asset):',
    '',
    costs,
  ].join('\n');
  return { full, summary };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      photos: { type: 'string' },
      sizes: { type: 'string' },
      reps: { type: 'string', default: '3' },
      out: { type: 'string' },
      json: { type: 'string' },
    },
  });
  const photos = values.photos ? values.photos.split(',') : DEFAULT_PHOTOS;
  const sizes = (values.sizes ? values.sizes.split(',') : DEFAULT_SIZES) as RenditionSize[];
  const reps = Number(values.reps);
  const binary = process.env.BUTTERAUGLI ?? 'butteraugli_main';
  try {
    await run(binary, [], { timeout: 10_000 }).catch((error: { code?: unknown }) => {
      if (error.code === 'ENOENT') throw error;
    });
  } catch {
    console.error(`${binary} not found: apt-get install -y libjxl-devtools (or set BUTTERAUGLI=/path/to/butteraugli_main)`);
    process.exit(1);
  }

  sharp.concurrency(1); // one thread per encode, as in BASELINE.md's encode table and the worker's AVIF lanes
  sharp.cache(false);
  const settings = sweep();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'bench-quality-'));
  const results: Results = {};
  const decodes: Decodes = {};
  const started = performance.now();
  try {
    for (const photo of photos) {
      const { bySize, megapixels, decodeCpuMs } = await studyPhoto(photo, sizes, settings, reps, binary, tmp);
      results[photo] = bySize;
      decodes[photo] = { megapixels, decodeCpuMs };
      console.error(`${photo}: done at ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  if (values.json) await writeFile(values.json, JSON.stringify({ photos, sizes, reps, settings, results, decodes }, null, 1));
  const { full, summary } = report(results, decodes, photos, sizes, settings, reps);
  console.log(`## Full sweep\n\n${full}\n\n## Summary\n\n${summary}\n`);
  if (values.out) await writeFile(values.out, `${summary}\n`);
  console.error(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

await main();
