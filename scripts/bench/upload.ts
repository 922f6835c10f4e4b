/**
 * `npm run bench:upload`: what an upload costs our API against the least an upload endpoint can do, measured in one
 * run on one machine state (issue 9: p50 and p99 within 2x of the reference, at concurrency 1 and 8).
 *
 * Starts the reference (reference-upload-server.ts: bare express + multer, spools to disk while hashing, answers
 * 201) and our API (worker not started, local storage, rate limit off, the malloc settings of `npm start`), then
 * uploads distinct copies of the same 12 MP JPEG to both: blocks of uploads alternate between the two servers,
 * so other load on the machine falls on both alike. Reports p50/p99 per server and level, their ratios, CPU time
 * per upload of each server process, and the API's resident memory before and after (it should stay flat).
 *
 * `benchUploads()` is exported for bench:renditions: given a running API (`api`), it measures that one instead
 * of starting its own; either way it stops everything it started, also on failure.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { CORPUS_DIR } from '../../test/support/corpus';
import { API_MALLOC_ENV } from '../process-env';
import { benchEnv, freePort, launchEntry, percentile, runCleanups, table, throwawayBackends, waitFor, withComment, type Cleanups } from './harness';
import { mainThreadCpuSeconds, peakRssBytes, processCpuSeconds, rssBytes } from './proc';


/**
 * The largest ~12 MP JPEG photo of the corpus (4032x3024, 2.9 MB), re-encoded at q98 with full-resolution chroma:
 * 4.6 MiB (4.8 MB), a camera-sized file, the same source as bench:renditions' latency phase.
 */
export const UPLOAD_SOURCE = { photo: 'photos/42_IndexError.jpg', jpeg: { quality: 98, chromaSubsampling: '4:4:4' } as const };

export interface UploadLevel {
  concurrency: number;
  /** Blocks per server; blocks alternate reference, API, API, reference, ... so both see the same drift. */
  blocks: number;
  uploadsPerBlock: number;
}

/** 100 and 128 uploads per server: p99 is then the second-slowest, not the slowest. */
export const DEFAULT_LEVELS: UploadLevel[] = [
  { concurrency: 1, blocks: 10, uploadsPerBlock: 10 },
  { concurrency: 8, blocks: 8, uploadsPerBlock: 16 },
];

/** A server under test: where to upload, and the process whose CPU and memory are read. */
export interface UploadTarget {
  url: string;
  pid: number;
}

export interface UploadBenchOptions {
  /**
   * A running API to measure, with its rate limit off (RATE_LIMIT_UPLOADS_PER_MINUTE=0) and, for numbers comparable
   * to the issue's, its worker idle; without it, one is started on a throwaway database, queue prefix and directory.
   */
  api?: UploadTarget;
  levels?: UploadLevel[];
}

interface ServerRun {
  latenciesMs: number[];
  /** CPU time of the server process over its blocks, all threads (libvips decodes on libuv's) ... */
  cpuSeconds: number;
  /** ... and of its main thread alone: the JavaScript (parsing, hashing, database and queue clients). */
  mainThreadCpuSeconds: number;
  /** CPU time of this process (the client: building, sending, checking uploads) over the same blocks. */
  clientCpuSeconds: number;
}

export interface UploadLevelResult {
  concurrency: number;
  reference: ServerRun;
  api: ServerRun;
}

export interface UploadBenchResult {
  sourceBytes: number;
  levels: UploadLevelResult[];
  /** Resident memory of the API process after the warm-up, after the run, and its peak (VmHWM) by then. */
  apiRss: { before: number; after: number; peak: number };
  referenceRss: { before: number; after: number; peak: number };
}

/**
 * Uploads to the reference and to our API, interleaved, at each level's concurrency.
 * @throws when a server answers anything but a 201 carrying the SHA-256 of the bytes sent
 */
export async function benchUploads(options: UploadBenchOptions = {}): Promise<UploadBenchResult> {
  const cleanups: Cleanups = [];
  const stopAll = () => runCleanups(cleanups);
  // Interrupted: stop what was started; the uploads in flight then fail, and the run ends through `finally`.
  const onSignal = () => void stopAll();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'renditions-upload-bench-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const reference = await startReference(dir, cleanups);
    const api = options.api ?? (await startApi(dir, cleanups));
    const source = await sharp(await readFile(path.join(CORPUS_DIR, UPLOAD_SOURCE.photo))).jpeg(UPLOAD_SOURCE.jpeg).toBuffer();
    const targets = { reference: { ...reference, url: `${reference.url}/upload` }, api: { ...api, url: `${api.url}/api/v1/images` } };

    let copy = 0;
    const next = () => withComment(source, `upload bench ${process.pid} ${(copy += 1)}`);
    // Warm-up: the JIT, the connection pools, the first libvips decode.
    for (const target of [targets.reference, targets.api]) await uploadBlock(target, next, 8, 4);
    const rssBefore = { api: rssBytes(api.pid), reference: rssBytes(reference.pid) };

    const levels: UploadLevelResult[] = [];
    for (const level of options.levels ?? DEFAULT_LEVELS) {
      const empty = (): ServerRun => ({ latenciesMs: [], cpuSeconds: 0, mainThreadCpuSeconds: 0, clientCpuSeconds: 0 });
      const runs = { reference: empty(), api: empty() };
      for (let block = 0; block < level.blocks * 2; block += 1) {
        // ABBA order: neither server always runs right after the other.
        const which = [0, 3].includes(block % 4) ? 'reference' : 'api';
        const target = targets[which];
        const cpu = () => ({ server: processCpuSeconds(target.pid), main: mainThreadCpuSeconds(target.pid), client: processCpuSeconds(process.pid) });
        const before = cpu();
        runs[which].latenciesMs.push(...(await uploadBlock(target, next, level.uploadsPerBlock, level.concurrency)));
        const after = cpu();
        runs[which].cpuSeconds += after.server - before.server;
        runs[which].mainThreadCpuSeconds += after.main - before.main;
        runs[which].clientCpuSeconds += after.client - before.client;
      }
      levels.push({ concurrency: level.concurrency, ...runs });
    }
    return {
      sourceBytes: source.length,
      levels,
      apiRss: { before: rssBefore.api, after: rssBytes(api.pid), peak: peakRssBytes(api.pid) },
      referenceRss: { before: rssBefore.reference, after: rssBytes(reference.pid), peak: peakRssBytes(reference.pid) },
    };
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await stopAll();
  }
}

/** `count` uploads of fresh copies, `concurrency` at a time; the time of each to its whole answer. */
async function uploadBlock(target: UploadTarget, next: () => Buffer, count: number, concurrency: number): Promise<number[]> {
  const latencies: number[] = [];
  let left = count;
  const lane = async () => {
    while (left > 0) {
      left -= 1;
      const bytes = next();
      const form = new FormData();
      form.append('image', new Blob([bytes], { type: 'image/jpeg' }), 'photo.jpg');
      const started = performance.now();
      const response = await fetch(target.url, { method: 'POST', body: form });
      const body = await response.text();
      latencies.push(performance.now() - started);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (response.status !== 201 || (JSON.parse(body) as { sha256?: string }).sha256 !== sha256) {
        throw new Error(`upload to ${target.url}: ${response.status} ${body.slice(0, 500)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return latencies;
}

// ---------------------------------------------------------------------------------------------------------
// The two servers.

async function startReference(dir: string, cleanups: Cleanups): Promise<UploadTarget> {
  const spoolDir = path.join(dir, 'reference-spool');
  await mkdir(spoolDir);
  const port = await freePort();
  const child = launch('reference', 'scripts/bench/reference-upload-server.ts', { ...process.env, PORT: String(port), SPOOL_DIR: spoolDir }, dir, cleanups);
  const url = `http://127.0.0.1:${port}`;
  await waitFor('the reference server to listen', async () => (await fetch(url).catch(() => undefined)) !== undefined);
  return { url, pid: child.pid! };
}

/** Our API as `npm start` runs it, on a database, queue prefix and storage directory of its own; no worker. */
async function startApi(dir: string, cleanups: Cleanups): Promise<UploadTarget> {
  const backends = await throwawayBackends('upload_bench', cleanups);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = launch('api', 'apps/api/src/main.ts', { ...benchEnv(backends, dir, port), ...API_MALLOC_ENV }, dir, cleanups);
  await waitFor('the API to answer /healthz', async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true);
  return { url, pid: child.pid! };
}

/** launchEntry; what the child logged (warnings and errors) is shown once it has stopped. */
function launch(name: string, entry: string, env: NodeJS.ProcessEnv, dir: string, cleanups: Cleanups): ChildProcess {
  cleanups.push(async () => {
    const lines = (await readFile(path.join(dir, `${name}.log`), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    if (lines.length > 0) console.log(`\n${name} logged ${lines.length} line(s); the first ones:\n${lines.slice(0, 5).join('\n')}`);
  });
  return launchEntry(name, entry, { env, dir, cleanups });
}

// ---------------------------------------------------------------------------------------------------------
// Output.

const ms = (value: number) => `${Math.round(value)} ms`;
const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

/** The Markdown the bench prints: one row per level, then memory. */
export function formatUploadBench(result: UploadBenchResult): string {
  const rows = result.levels.map(({ concurrency, reference, api }) => {
    const p = (run: ServerRun, q: number) => percentile(run.latenciesMs, q);
    const cpu = (run: ServerRun, seconds = run.cpuSeconds) => ms((seconds * 1000) / run.latenciesMs.length);
    return [
      String(concurrency),
      String(api.latenciesMs.length),
      `${ms(p(api, 50))} / ${ms(p(api, 99))}`,
      `${ms(p(reference, 50))} / ${ms(p(reference, 99))}`,
      `${(p(api, 50) / p(reference, 50)).toFixed(2)}x / ${(p(api, 99) / p(reference, 99)).toFixed(2)}x`,
      `${cpu(api)} (JS ${cpu(api, api.mainThreadCpuSeconds)}) / ${cpu(reference)} (JS ${cpu(reference, reference.mainThreadCpuSeconds)})`,
      `${cpu(api, api.clientCpuSeconds)} / ${cpu(reference, reference.clientCpuSeconds)}`,
    ];
  });
  const { apiRss, referenceRss } = result;
  return [
    `Upload of a ${(result.sourceBytes / 1e6).toFixed(1)} MB 12 MP JPEG (${UPLOAD_SOURCE.photo} at q${UPLOAD_SOURCE.jpeg.quality} ` +
      `${UPLOAD_SOURCE.jpeg.chromaSubsampling}), distinct bytes each, timed to the whole 201; API and reference interleaved.\n`,
    table(
      ['at a time', 'uploads each', 'API p50 / p99', 'reference p50 / p99', 'ratio p50 / p99', 'server CPU per upload, API / reference', 'client CPU per upload'],
      rows,
    ),
    `\nAPI RSS ${mib(apiRss.before)} after the warm-up, ${mib(apiRss.after)} at the end (peak ${mib(apiRss.peak)}); ` +
      `reference ${mib(referenceRss.before)} -> ${mib(referenceRss.after)} (peak ${mib(referenceRss.peak)}).`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(
    `upload bench, ${new Date().toISOString()}: ${os.availableParallelism()} cores, sharp ${sharp.versions.sharp} / ` +
      `libvips ${sharp.versions.vips}, load average ${os.loadavg()[0]!.toFixed(2)} at start\n`,
  );
  console.log(formatUploadBench(await benchUploads()));
  console.log(`\nload average ${os.loadavg()[0]!.toFixed(2)} at end`);
}
