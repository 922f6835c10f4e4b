import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_STAGE } from '@renditions/pipeline';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload } from '../support/http';
import { mapConcurrently } from '../support/map-concurrently';
import {
  duplicateGifBlock,
  duplicateIsobmffBox,
  duplicateJpegSegment,
  duplicatePngChunk,
  duplicateRiffChunk,
  flipBits,
  maxAvifDimensions,
  maxGifFrameDimensions,
  maxGifScreen,
  maxIsobmffBoxSize,
  maxJpegSegmentLength,
  maxJpegSofDimensions,
  maxPngChunkLength,
  maxPngDimensions,
  maxRiffChunkSize,
  maxRiffSize,
  maxTiffDimensions,
  maxTiffIfdCount,
  maxTiffIfdOffset,
  maxWebpDimensions,
  mulberry32,
  prependPngHeader,
  swapSignature,
  truncate,
  type Mutator,
} from '../support/mutations';

/**
 * Upload fuzzing: the corpus's good files, damaged in the ways that break decoders and container walkers, uploaded
 * through HTTP. Whatever arrives, the API answers 201 or a contract 4xx (never a 5xx), stays up, and a rejected upload
 * leaves nothing behind: no object, no row, no job, no spool file.
 *
 * Deterministic: every mutant comes from FUZZ_SEED (a fixed default) and its place in the plan, so a failure replays
 * with `FUZZ_SEED=<seed> npx vitest run test/e2e/upload-fuzz.test.ts`, or just the failing mutants with
 * `FUZZ_ONLY=<n>,<n>` too; their bytes are also saved under test-results/fuzz/. FUZZ_ROUNDS=<n> runs the plan n times
 * with fresh randomness (a longer hunt); FUZZ_VERBOSE=1 prints every mutant's answer.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed2024) >>> 0;
const SEED_HEX = `0x${SEED.toString(16)}`;
/** Passes over the plan, each with fresh randomness: 1 in `npm test`; more for a longer hunt. */
const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? 1);
const ONLY = process.env.FUZZ_ONLY ? new Set(process.env.FUZZ_ONLY.split(',').map(Number)) : undefined;
/** Uploads in flight at once: enough to overlap validation, no more than MAX_CONCURRENT_UPLOADS on a 2-core machine. */
const CONCURRENCY = 4;
const FUZZ_DIR = path.resolve(import.meta.dirname, '../../test-results/fuzz');
/** Which mutants were in flight, rewritten at each start and end: if a mutant kills the process, this names it. */
const IN_FLIGHT_FILE = path.join(FUZZ_DIR, 'in-flight.txt');

/** The codes the contract gives a refused upload. */
const UPLOAD_CODES = ['missing_file', 'invalid_request', 'unsupported_type', 'invalid_image', 'too_many_pixels', 'file_too_large'];

/** The corpus has no lossless WebP: this one is made in the test, from a corpus PNG. */
const LOSSLESS_WEBP = 'derived: formats/with-alpha.png as lossless WebP';

type Format = 'jpeg' | 'png' | 'gif' | 'webp' | 'avif' | 'tiff';

/** The seeds: small files (the run stays well under 90 s) that between them hold every structure the mutators aim at. */
const SOURCES: Array<{ file: string; format: Format }> = [
  { file: 'photos/Canon_40D.jpg', format: 'jpeg' }, // baseline; EXIF with Canon maker notes, ICC profile (APP2)
  { file: 'photos/nikon-e950.jpg', format: 'jpeg' }, // baseline; EXIF, IPTC (APP13), Adobe (APP14), restart markers
  { file: 'formats/32-lens_data.jpeg', format: 'jpeg' }, // progressive (SOF2); two APP1 (EXIF, XMP)
  { file: 'formats/testimgari.jpg', format: 'jpeg' }, // arithmetic-coded (SOF9, DAC)
  { file: 'formats/with-alpha.png', format: 'png' }, // RGBA; ancillary gAMA and eXIf
  { file: 'formats/tbgn2c16.png', format: 'png' }, // 16-bit; ancillary gAMA, tRNS, bKGD
  { file: 'formats/hopper.gif', format: 'gif' }, // one frame
  { file: 'formats/rotating-squares.gif', format: 'gif' }, // animated, 30 frames, NETSCAPE loop
  { file: 'orientation/hopper_orientation_6.webp', format: 'webp' }, // lossy VP8 in VP8X, EXIF chunk
  { file: 'formats/rotating-squares.webp', format: 'webp' }, // animated: ANIM + ANMF frames
  { file: LOSSLESS_WEBP, format: 'webp' }, // lossless VP8L
  { file: 'orientation/rot1mir0.avif', format: 'avif' }, // meta/iprp/ipco with ispe, irot, imir
  { file: 'formats/tiff_adobe_deflate.tif', format: 'tiff' }, // RGB, Deflate
];

/** Damage any file can take: most flips land in pixel data, so some are kept to the first bytes, where headers are. */
const ANY_FORMAT: Mutator[] = [
  flipBits(1),
  flipBits(1),
  flipBits(8),
  flipBits(8),
  flipBits(64),
  flipBits(8, 512),
  flipBits(8, 512),
  truncate(),
  truncate(),
  truncate(256),
  truncate(256),
  swapSignature,
];

/** Damage to each format's own structure; a random pick (which chunk, which segment) is repeated with another. */
const BY_FORMAT: Record<Format, Mutator[]> = {
  jpeg: [
    duplicateJpegSegment,
    duplicateJpegSegment,
    maxJpegSegmentLength,
    maxJpegSegmentLength,
    maxJpegSofDimensions(),
    maxJpegSofDimensions(65500),
    prependPngHeader,
  ],
  png: [
    duplicatePngChunk,
    duplicatePngChunk,
    maxPngChunkLength,
    maxPngChunkLength,
    maxPngDimensions('width'),
    maxPngDimensions('both'),
    maxPngDimensions('height', 1_000_000),
  ],
  gif: [duplicateGifBlock, duplicateGifBlock, maxGifScreen, maxGifFrameDimensions],
  webp: [duplicateRiffChunk, duplicateRiffChunk, maxRiffSize, maxRiffChunkSize, maxRiffChunkSize, maxWebpDimensions],
  avif: [
    duplicateIsobmffBox,
    duplicateIsobmffBox,
    maxIsobmffBoxSize,
    maxIsobmffBoxSize,
    maxIsobmffBoxSize,
    maxAvifDimensions,
  ],
  tiff: [maxTiffIfdCount, maxTiffIfdOffset, maxTiffDimensions],
};

interface PlannedMutant {
  /** Its place in the plan: with the seed, all it takes to make it again. */
  index: number;
  source: string;
  mutation: string;
  bytes: Buffer;
  sha256: string;
}

interface Answer {
  mutant: PlannedMutant;
  status: number;
  body: string;
  /** `201`, or `<status> <code>`: what the summary counts. */
  outcome: string;
  /** What breaks the contract, if anything. */
  problem?: string;
}

/**
 * Every mutant of the run, in a fixed order. Each gets its own generator seeded from SEED and its index, so one
 * mutant is made the same way whether the whole plan runs or only FUZZ_ONLY.
 */
function planMutants(sources: Map<string, Buffer>): { mutants: PlannedMutant[]; notApplicable: string[] } {
  const mutants: PlannedMutant[] = [];
  const notApplicable: string[] = [];
  let index = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const { file, format } of SOURCES) {
      const source = sources.get(file)!;
      for (const mutator of [...ANY_FORMAT, ...BY_FORMAT[format]]) {
        index += 1;
        if (ONLY && !ONLY.has(index)) continue;
        const mutant = mutator(source, mulberry32(SEED ^ Math.imul(index, 0x9e3779b1)));
        if (!mutant) {
          notApplicable.push(`#${index} ${file} ${mutator.name}`);
          continue;
        }
        const sha256 = createHash('sha256').update(mutant.bytes).digest('hex');
        mutants.push({ index, source: file, mutation: mutant.mutation, bytes: mutant.bytes, sha256 });
      }
    }
  }
  return { mutants, notApplicable };
}

/** Uploads one mutant and judges the answer against the contract. */
async function uploadMutant(baseUrl: string, mutant: PlannedMutant): Promise<Answer> {
  let response: Response;
  let body: string;
  try {
    response = await upload(baseUrl, mutant.bytes, { filename: `mutant-${mutant.index}`, type: 'application/octet-stream' });
    body = await response.text();
  } catch (error) {
    // No answer at all: the connection was reset, or the server went away.
    return { mutant, status: 0, body: String(error), outcome: 'no answer', problem: `no answer: ${String(error)}` };
  }
  const { status } = response;
  let json: { sha256?: unknown; error?: { code?: unknown; message?: unknown } } | undefined;
  try {
    json = JSON.parse(body) as typeof json;
  } catch {
    json = undefined;
  }
  if (status === 201) {
    const problem = json?.sha256 === mutant.sha256 ? undefined : `201 whose sha256 is not the bytes sent (${mutant.sha256})`;
    return { mutant, status, body, outcome: '201', problem };
  }
  const code = json?.error?.code;
  const outcome = `${status} ${typeof code === 'string' ? code : '(no code)'}`;
  if (status >= 500) return { mutant, status, body, outcome, problem: `${status}: a server error` };
  if (status < 400) return { mutant, status, body, outcome, problem: `${status}: neither 201 nor a 4xx` };
  if (typeof code !== 'string' || typeof json?.error?.message !== 'string') {
    return { mutant, status, body, outcome, problem: `${status} without the contract's {"error":{"code","message"}}` };
  }
  if (!UPLOAD_CODES.includes(code)) return { mutant, status, body, outcome, problem: `${status} with code ${code}, not an upload code` };
  // A decoder's message names the file it read: the client must never see the server's paths.
  if (/renditions-uploads|\/tmp\//.test(json.error.message)) return { mutant, status, body, outcome, problem: 'a server path in the message' };
  return { mutant, status, body, outcome };
}


/** Keeps IN_FLIGHT_FILE naming the mutants being uploaded; synchronous, so it is on disk if the process dies next. */
function inFlightJournal() {
  const inFlight = new Map<number, PlannedMutant>();
  const write = () =>
    writeFileSync(
      IN_FLIGHT_FILE,
      [...inFlight.values()].map((m) => `FUZZ_SEED=${SEED_HEX} FUZZ_ONLY=${m.index}  ${m.source}  ${m.mutation}\n`).join(''),
    );
  return {
    start(mutant: PlannedMutant) {
      inFlight.set(mutant.index, mutant);
      write();
    },
    end(mutant: PlannedMutant) {
      inFlight.delete(mutant.index);
      write();
    },
    close: () => rmSync(IN_FLIGHT_FILE, { force: true }),
  };
}

/** Saves a failing mutant's bytes for replay (`curl -F image=@<file> .../api/v1/images`); returns where. */
function saveForReplay(answer: Answer): string {
  const { index, source } = answer.mutant;
  const file = path.join(FUZZ_DIR, `seed-${SEED_HEX}-${index}-${path.basename(source).replace(/[^\w.-]+/g, '_')}.bin`);
  writeFileSync(file, answer.mutant.bytes);
  return path.relative(process.cwd(), file);
}

function describeProblem(answer: Answer): string {
  const { mutant } = answer;
  return (
    `seed ${SEED_HEX} mutant #${mutant.index} (FUZZ_ONLY=${mutant.index}): ${mutant.source} ${mutant.mutation} -> ` +
    `${answer.problem}; body: ${answer.body.slice(0, 500)}; bytes: ${saveForReplay(answer)}`
  );
}

function summarize(answers: Answer[]): string {
  const counts = new Map<string, number>();
  for (const { outcome } of answers) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  return [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([outcome, n]) => `${outcome} x${n}`)
    .join(', ');
}

/** Waits briefly until every asset's flow is in Redis (or the wait ends: the count of flows then shows it). */
async function flowsHandedOver(ctx: TestContext): Promise<void> {
  const waiting = async () => {
    const [row] = await ctx.services.db.execute<{ n: number }>(sql`select count(*)::int as n from assets where flow_enqueued_at is null`);
    return row?.n ?? 0;
  };
  for (let attempt = 0; attempt < 20 && (await waiting()) > 0; attempt += 1) await sleep(100);
}

/** The spool directory's files, waiting briefly: a 201's spool file is removed just after its answer is sent. */
async function spoolFilesLeft(directory: string): Promise<string[]> {
  const list = () => readdir(directory).catch(() => [] as string[]);
  for (let attempt = 0; attempt < 20 && (await list()).length > 0; attempt += 1) await sleep(100);
  return list();
}

describe('upload fuzzing', () => {
  let ctx: TestContext;
  const sources = new Map<string, Buffer>();

  beforeAll(async () => {
    // The API spools uploads into the storage's spool directory, inside this test's own storage directory: what
    // rejected uploads leave there can be counted, whatever other tests do at the same time.
    ctx = await createTestContext({ worker: false, env: { RATE_LIMIT_UPLOADS_PER_MINUTE: '0' } });
    for (const { file } of SOURCES) {
      sources.set(
        file,
        file === LOSSLESS_WEBP
          ? await sharp(readCorpus('formats/with-alpha.png')).webp({ lossless: true }).toBuffer()
          : readCorpus(file),
      );
    }
    mkdirSync(FUZZ_DIR, { recursive: true });
  });
  afterAll(async () => {
    await ctx?.stop();
  });

  it('answers every mutant with 201 or a contract 4xx, stays up, and keeps only what it accepted', { timeout: 180_000 }, async () => {
    const started = Date.now();
    const { mutants, notApplicable } = planMutants(sources);
    expect(mutants.length).toBeGreaterThan(0);

    const journal = inFlightJournal();
    const answers = await mapConcurrently(mutants, CONCURRENCY, async (mutant) => {
      journal.start(mutant);
      const answer = await uploadMutant(ctx.url, mutant);
      journal.end(mutant);
      return answer;
    });
    journal.close();

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `upload fuzz seed=${SEED_HEX}: ${answers.length} mutants in ${seconds} s: ${summarize(answers)}` +
        (notApplicable.length > 0 ? ` (not applicable, skipped: ${notApplicable.join('; ')})` : ''),
    );

    if (process.env.FUZZ_VERBOSE) {
      for (const a of answers) console.log(`#${a.mutant.index} ${a.mutant.source} ${a.mutant.mutation} -> ${a.outcome} ${a.body.slice(0, 300)}`);
    }

    // The contract for every answer: no 5xx, the error shape, an upload code.
    expect.soft(answers.filter((a) => a.problem).map(describeProblem)).toEqual([]);

    // Still up: the process neither exited nor wedged.
    const health = await fetch(`${ctx.url}/healthz`);
    expect.soft(health.status).toBe(200);

    // A rejected upload's spool file goes before its answer, an accepted one's just after; the flow of an accepted
    // upload is handed to Redis after its answer too.
    const spoolLeft = await spoolFilesLeft(ctx.services.storage.spoolDirectory);
    await flowsHandedOver(ctx);

    // What is stored is exactly what was accepted: one asset per distinct accepted file, one image per 201, and no
    // object, row or job that a rejected upload could have left.
    const accepted = answers.filter((a) => a.status === 201);
    const acceptedSha = [...new Set(accepted.map((a) => a.mutant.sha256))].sort();
    const assets = await ctx.services.db.execute<{ id: string; sha256: string }>(sql`select id, sha256 from assets`);
    expect.soft(assets.map((a) => a.sha256).sort(), 'assets rows = distinct accepted files').toEqual(acceptedSha);
    const [images] = await ctx.services.db.execute<{ n: number }>(sql`select count(*)::int as n from images`);
    expect.soft(images?.n, 'images rows = 201 answers').toBe(accepted.length);

    const keys: string[] = [];
    for await (const object of ctx.services.storage.list('')) keys.push(object.key);
    expect.soft(keys.sort(), 'stored objects = the accepted originals').toEqual(assets.map((a) => `assets/${a.id}/original`).sort());

    // The worker is off, so every job still waits: each must belong to an accepted asset, one flow (settle) each.
    const assetIds = new Set(assets.map((a) => a.id));
    const strayJobs: string[] = [];
    let flows = 0;
    for (const [name, queue] of ctx.services.queues.queues) {
      for (const job of await queue.getJobs()) {
        if (!assetIds.has((job.data as { assetId?: string }).assetId ?? '')) strayJobs.push(`${name}:${job.id}`);
        if (name === ROOT_STAGE) flows += 1;
      }
    }
    expect.soft(strayJobs, 'jobs of no accepted asset').toEqual([]);
    expect.soft(flows, 'one flow per accepted asset').toBe(assets.length);

    expect.soft(spoolLeft, 'spool files left').toEqual([]);
  });
});
