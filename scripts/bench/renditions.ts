/**
 * `npm run bench:renditions`: the whole pipeline against plain sharp, measured in one run on one machine state.
 *
 * Starts a throwaway stack the way `npm start` does (API and worker as separate tsx processes, the worker at
 * nice 10 with jemalloc preloaded, production defaults otherwise) on its own database, queue prefix and storage
 * directory, then measures, in this order:
 *  1. throughput on the corpus photos and Kodak PNGs: plain sharp (the lib's renderRenditions, 2 images in
 *     flight, same nice and allocator, run before and after) against uploads -> every image `ready`;
 *  2. on an idle worker, time from a 12 MP upload's 201 to its 12 JPEG+WebP renditions and to all 18 ready;
 *  3. upload latency of ~5 MB 12 MP JPEGs at concurrency 8, worker idle, then worker saturated by a backlog
 *     (this phase comes last because it leaves that backlog behind);
 *  4. upload latency against a bare express + multer server that spools and hashes (bench:upload's comparison,
 *     on this stack's API with its queues paused);
 *  5. peak RSS of the worker and of plain sharp.
 * The machine's CPU time is read around each phase: on a shared machine, other load moves every number here.
 * Everything the run created (processes, database, Redis keys, files) is removed at the end, also on failure.
 * Every upload carries bytes of its own (a JPEG comment naming the run): the same bytes twice would be one asset,
 * rendered once, and the second upload would cost the pipeline nothing while plain sharp renders it again.
 * `-- --batch [runs]` runs only the 6-photo throughput comparison, three times by default (not for the README table).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import sharp from 'sharp';
import { loadConfig } from '@renditions/config';
import type { ImageResource } from '@renditions/pipeline';
import { QUEUE_NAMES } from '@renditions/pipeline';
import { QueueClient } from '@renditions/queue';
import { CORPUS_DIR } from '../../test/support/corpus';
import { API_MALLOC_ENV, WORKER_HAS_JEMALLOC, WORKER_MALLOC_ENV, WORKER_NICENESS } from '../process-env';
import { upload } from '../../test/support/http';
import { readEventStream } from '../../test/support/sse';
import type { PlainResult } from './plain-sharp';
import {
  hasLibraryMapped,
  machineBusySeconds,
  mainThreadCpuSeconds,
  niceness,
  peakRssBytes,
  processCpuSeconds,
  runnableThreads,
} from './proc';
import { median, readStageStats, type StageStats } from './stages';
import { BENCH_REDIS_URL, benchEnv, freePort, launchEntry, percentile, runCleanups, table, throwawayBackends, waitFor, withComment, type Cleanups } from './harness';
import { benchUploads, formatUploadBench, type UploadBenchResult } from './upload';
import { mapConcurrently } from '../../test/support/map-concurrently';


const THROUGHPUT = { uploadConcurrency: 4, timelineMs: 2000 };
/** The issue's batch: six distinct real photos, 0.3 to 12 MP, one of them rotated (EXIF 6), all uploaded at once. */
const SIX_PHOTOS = [
  'photos/42_IndexError.jpg',
  'photos/HMD_Nokia_8.3_5G.jpg',
  'photos/jolla.jpg',
  'photos/canon_hdr_NO.jpg',
  'photos/nikon-e950.jpg',
  'photos/DSCN0010.jpg',
];
const RUNNABLE_SAMPLE_MS = 100;
/** Plain sharp runs before and after the pipeline; a larger difference means the machine's load moved meanwhile. */
const PLAIN_DRIFT_WARNING = 0.2;
const READY = { photo: 'photos/42_IndexError.jpg', repeats: 3 };
/** The issue's goals, printed next to each measure. */
const GOALS = { throughput: 0.9, firstRenditionMs: 300, jpegWebpMs: 1000, allVsPlain: 1.3, uploadVsReference: 2, workerRssMiB: 400 };
const LATENCY = {
  uploadsPerLevel: 40,
  concurrency: 8,
  sequentialUploads: 8,
  // q95 gives only 3.0 MB on this smooth 12 MP photo; q98 with full-resolution chroma gives ~4.8 MB.
  jpeg: { quality: 98, chromaSubsampling: '4:4:4' } as const,
  // Active render + render-avif jobs that count as "the worker is busy rendering" (slots: 2 + 1 by default).
  busyRenderJobs: 2,
};

// ---------------------------------------------------------------------------------------------------------
// The stack: processes, database, queue prefix, storage, and how to take all of it down again.

interface Service {
  name: string;
  /** Node running the entry with tsx as a loader: the process doing the work, so the one measured. */
  child: ChildProcess;
  pid: number;
}

interface Stack {
  url: string;
  prefix: string;
  databaseName: string;
  /** A connection to the server's `postgres` database, not to the bench's own (so it is not counted in it). */
  admin: postgres.Sql;
  redisPid: number;
  dir: string;
  env: NodeJS.ProcessEnv;
  api: Service;
  worker: Service;
  queues: QueueClient;
  redis: Redis;
}

/** Undo steps, run last-in first-out at the end of the run whatever happened. */
const cleanups: Cleanups = [];
/** Where the started processes log; read at the end, before it is removed. */
let logDir: string | undefined;

async function startStack(): Promise<Stack> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'renditions-bench-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  logDir = dir;
  const backends = await throwawayBackends('bench', cleanups);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = benchEnv(backends, dir, port);
  const api = launch('api', 'apps/api/src/main.ts', [], { ...env, ...API_MALLOC_ENV }, dir);
  const worker = launch('worker', 'apps/worker/src/main.ts', [], workerEnv(env), dir, WORKER_NICENESS);
  const queues = new QueueClient({ redisUrl: BENCH_REDIS_URL, prefix: backends.prefix, queueNames: QUEUE_NAMES });
  cleanups.push(() => queues.close());
  await waitFor('the API to answer /healthz', async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true);
  await waitFor('the worker to connect to its queues', async () => (await queues.queues.get('render')!.getWorkersCount()) > 0);
  const redisPid = Number(/^process_id:(\d+)/m.exec(await backends.redis.info('server'))?.[1]);
  const { prefix, databaseName, admin, redis } = backends;
  return { url, prefix, databaseName, admin, redisPid, dir, env, api, worker, queues, redis };
}

/** The worker's environment as `npm start` gives it (plain sharp gets it too, to compare like with like). */
function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, ...WORKER_MALLOC_ENV };
}

/** launchEntry, keeping the pid of the process doing the work (the one measured). */
function launch(
  name: string,
  entry: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  dir: string,
  nice = 0,
  stdout: 'log' | 'pipe' = 'log',
): Service {
  const child = launchEntry(name, entry, { args, env, dir, cleanups, nice, stdout });
  return { name, child, pid: child.pid! };
}




// ---------------------------------------------------------------------------------------------------------
// Inputs.

interface Input {
  name: string;
  bytes: Buffer;
  type: string;
  width: number;
  height: number;
}

async function corpusInputs(): Promise<Input[]> {
  return readInputs([...(await listFiles('photos', '.jpg')), ...(await listFiles('kodak', '.png'))]);
}

async function readInputs(files: string[]): Promise<Input[]> {
  return Promise.all(
    files.map(async (file) => {
      const bytes = await readFile(path.join(CORPUS_DIR, file));
      const { width, height } = await sharp(bytes).metadata();
      return { name: file, bytes, type: file.endsWith('.png') ? 'image/png' : 'image/jpeg', width, height };
    }),
  );
}

async function listFiles(folder: string, extension: string): Promise<string[]> {
  const names = (await readdir(path.join(CORPUS_DIR, folder))).filter((name) => name.endsWith(extension)).sort();
  return names.map((name) => `${folder}/${name}`);
}

/** The inputs with bytes of their own (see withComment); the Kodak PNGs are uploaded once per run, so they stay as they are. */
function ownBytes(inputs: Input[], label: string): Input[] {
  return inputs.map((input) => (input.type === 'image/jpeg' ? { ...input, bytes: withComment(input.bytes, `bench ${label}`) } : input));
}

// ---------------------------------------------------------------------------------------------------------
// HTTP, as a client does it.

async function uploadImage(url: string, bytes: Buffer, filename: string, type: string): Promise<ImageResource> {
  const response = await upload(url, bytes, { filename, type });
  const body = await response.text();
  if (response.status !== 201) throw new Error(`upload of ${filename}: ${response.status} ${body}`);
  return JSON.parse(body) as ImageResource;
}

/**
 * Waits until every image is `ready`, from each image's live events (the stream sends the state first, then every
 * change, and ends once the image settles): the end is seen the moment it happens, and no polling takes CPU from
 * the worker on a 2-core machine.
 */
async function waitAllReady(url: string, ids: string[], timeoutMs = 300_000): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  await Promise.all(
    ids.map(async (id) => {
      const events = await readEventStream(await fetch(`${url}/api/v1/images/${id}/events`, { signal }));
      const last = events.at(-1);
      const status = last ? (JSON.parse(last.data) as { data: ImageResource }).data.status : 'no event';
      if (status !== 'ready') throw new Error(`image ${id} settled as ${status}`);
    }),
  );
}


// ---------------------------------------------------------------------------------------------------------
// CPU accounting: how many cores each process used over a window, and how many went to anything else.

/** CPU seconds per process, grouped by what the process is. */
interface CpuMark {
  at: number;
  machine: number;
  groups: Record<string, Map<number, number>>;
  workerMainThread: number;
}

/**
 * Postgres runs a backend process per connection: those connected to the bench database are the pipeline's
 * own database work. Redis is one process shared with whatever else uses it; its own load is small.
 */
async function markCpu(stack: Stack): Promise<CpuMark> {
  const backends = await stack.admin<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${stack.databaseName}`;
  const read = (pids: number[]) => new Map(pids.flatMap((pid) => readCpu(pid)));
  return {
    at: performance.now(),
    machine: machineBusySeconds(),
    groups: {
      worker: read([stack.worker.pid]),
      api: read([stack.api.pid]),
      postgres: read(backends.map((backend) => backend.pid)),
      redis: read([stack.redisPid]),
      client: read([process.pid]),
    },
    workerMainThread: mainThreadCpuSeconds(stack.worker.pid),
  };
}

/** A backend may have gone between listing and reading. */
function readCpu(pid: number): Array<[number, number]> {
  try {
    return [[pid, processCpuSeconds(pid)]];
  } catch {
    return [];
  }
}

interface CpuWindow {
  seconds: number;
  /** Cores used per group over the window. */
  cores: Record<string, number>;
  /** CPU seconds per group over the window. */
  cpuSeconds: Record<string, number>;
  /** Cores used by everything else: other sessions and services on this machine. */
  others: number;
  /** Cores the worker's JavaScript thread used: its share of `cores.worker` that is not decoding or encoding. */
  workerMainThread: number;
}

function cpuWindow(from: CpuMark, to: CpuMark): CpuWindow {
  const seconds = (to.at - from.at) / 1000;
  const cpuSeconds = Object.fromEntries(
    Object.entries(to.groups).map(([group, pids]) => {
      // A process that started during the window counts from zero.
      const used = [...pids].reduce((sum, [pid, cpu]) => sum + cpu - (from.groups[group]!.get(pid) ?? 0), 0);
      return [group, used];
    }),
  );
  const ours = Object.values(cpuSeconds).reduce((sum, value) => sum + value, 0);
  const cores = Object.fromEntries(Object.entries(cpuSeconds).map(([group, used]) => [group, used / seconds]));
  return {
    seconds,
    cores,
    cpuSeconds,
    others: (to.machine - from.machine - ours) / seconds,
    workerMainThread: (to.workerMainThread - from.workerMainThread) / seconds,
  };
}

/** "worker 1.20 (main thread 0.20) + api 0.10 + ...": where the cores went. */
function describeCores(window: CpuWindow): string {
  return Object.entries(window.cores)
    .map(([group, used]) => `${group} ${cores(used)}${group === 'worker' ? ` (main thread ${cores(window.workerMainThread)})` : ''}`)
    .join(' + ');
}

// ---------------------------------------------------------------------------------------------------------
// Phase 1: throughput.

interface PlainRun extends PlainResult {
  othersCores: number;
  /** Mean runnable threads of the process (its startup included): how much CPU it asked for. */
  runnableThreads: number;
}

/** Plain sharp in a child process with the worker's niceness and allocator (see plain-sharp.ts). */
async function runPlainSharp(stack: Stack, inputs: Input[]): Promise<PlainRun> {
  const files = inputs.map((input) => path.join(CORPUS_DIR, input.name));
  const child = launch('plain-sharp', 'scripts/bench/plain-sharp.ts', files, workerEnv(stack.env), stack.dir, WORKER_NICENESS, 'pipe');
  let output = '';
  child.child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const runnable = startSampler(RUNNABLE_SAMPLE_MS, () => runnableThreads(child.pid));
  const code = await new Promise((resolve) => child.child.once('exit', resolve));
  const samples = await runnable.stop();
  if (code !== 0) throw new Error(`plain-sharp exited with ${code}; see ${stack.dir}/plain-sharp.log`);
  const result = JSON.parse(output.trim().split('\n').pop()!) as PlainResult;
  return {
    ...result,
    othersCores: (result.machineBusyMs - result.cpuMs) / result.wallMs,
    runnableThreads: mean(samples),
  };
}

interface PipelineRun {
  wallMs: number;
  uploadsMs: number;
  cpu: CpuWindow;
  /** Mean runnable threads of the worker over the run. */
  workerRunnableThreads: number;
  /** CPU use per THROUGHPUT.timelineMs: shows when cores sat idle, and whether other load took them. */
  timeline: CpuWindow[];
  stages: StageStats[];
  startedAt: number;
  workerPeakRss: number;
}

async function runPipeline(stack: Stack, inputs: Input[], uploadConcurrency = THROUGHPUT.uploadConcurrency): Promise<PipelineRun> {
  const startedAt = Date.now();
  const before = await markCpu(stack);
  // Every 2 s for the CPU timeline; every 100 ms for the worker's demand for CPU.
  const cpuMarks = startSampler(THROUGHPUT.timelineMs, () => markCpu(stack));
  const runnable = startSampler(RUNNABLE_SAMPLE_MS, () => runnableThreads(stack.worker.pid));
  const images = await mapConcurrently(inputs, uploadConcurrency, (input) =>
    uploadImage(stack.url, input.bytes, path.basename(input.name), input.type),
  );
  const uploadsMs = performance.now() - before.at;
  await waitAllReady(stack.url, images.map((image) => image.id));
  // The run ends here: stopping the samplers can wait out one of their intervals, which is not the pipeline's time.
  const after = await markCpu(stack);
  const marks = [before, ...(await cpuMarks.stop()).filter((mark) => mark.at < after.at), after];
  const workerRunnableThreads = mean(await runnable.stop());
  return {
    wallMs: after.at - before.at,
    uploadsMs,
    cpu: cpuWindow(before, after),
    workerRunnableThreads,
    timeline: marks.slice(1).map((mark, i) => cpuWindow(marks[i]!, mark)),
    stages: await readStageStats(stack.redis, stack.prefix, startedAt),
    startedAt,
    // The worker has done nothing but this run so far, so its high-water mark is this run's.
    workerPeakRss: peakRssBytes(stack.worker.pid),
  };
}

interface Sampler<S> {
  /** Stops sampling and returns the samples; one in flight is waited for and dropped. */
  stop(): Promise<S[]>;
}

/**
 * Takes a sample every `intervalMs` until stopped. A sampler left running by a failing phase neither keeps the
 * process alive nor throws: it ends at its first failed sample (the process it watched is gone).
 */
function startSampler<S>(intervalMs: number, sample: () => S | Promise<S>): Sampler<S> {
  const samples: S[] = [];
  let running = true;
  const tick = () => sleep(intervalMs, undefined, { ref: false });
  const loop = (async () => {
    for (await tick(); running; await tick()) {
      const value = await Promise.resolve().then(sample).catch(() => undefined);
      if (value === undefined) return;
      if (running) samples.push(value);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Phase 2: upload -> renditions ready, one 12 MP photo at a time on an idle worker.

interface ReadyRun {
  uploadMs: number;
  firstMs: number;
  jpegWebpMs: number;
  allMs: number;
}

/**
 * Times from the 201 to the first rendition, the 12 JPEG+WebP and all 18 ready, as the image's live events
 * report them (the stream sends the state first, so nothing before the subscription is missed).
 */
async function measureReady(stack: Stack, photo: Buffer, run: number): Promise<ReadyRun> {
  const sent = performance.now();
  const { id } = await uploadImage(stack.url, withComment(photo, `bench ready ${run}`), 'ready.jpg', 'image/jpeg');
  const created = performance.now();
  const at: { first?: number; jpegWebp?: number; all?: number } = {};
  const response = await fetch(`${stack.url}/api/v1/images/${id}/events`);
  await readEventStream(response, (event) => {
    const now = performance.now();
    const image = (JSON.parse(event.data) as { data: ImageResource }).data;
    const ready = image.renditions.filter((rendition) => rendition.status === 'ready');
    if (ready.length > 0) at.first ??= now;
    if (ready.filter((rendition) => rendition.format !== 'avif').length === 12) at.jpegWebp ??= now;
    if (ready.length === 18) at.all ??= now;
  });
  if (at.all === undefined) throw new Error(`image ${id} settled without its 18 renditions`);
  return { uploadMs: created - sent, firstMs: at.first! - created, jpegWebpMs: at.jpegWebp! - created, allMs: at.all - created };
}

/**
 * A running service has compiled its hot code long ago; a fresh one compiles it during its first assets (V8's
 * optimizing compiler ran on the worker's spare threads through the first batches). Three uploads through the whole
 * flow first, so the measured runs see the steady state.
 */
async function warmUp(stack: Stack, photo: Buffer): Promise<void> {
  const images = await Promise.all(
    [1, 2, 3].map((run) => uploadImage(stack.url, withComment(photo, `bench warm-up ${run}`), 'warm-up.jpg', 'image/jpeg')),
  );
  await waitAllReady(stack.url, images.map((image) => image.id));
}

// ---------------------------------------------------------------------------------------------------------
// Phase 3: upload latency, worker idle, then saturated.

interface LatencyLevel {
  label: string;
  concurrency: number;
  latenciesMs: number[];
  cpu: CpuWindow;
}

interface LatencyRun {
  /** One upload at a time, worker idle: the service time that the concurrent levels queue behind. */
  sequential: LatencyLevel;
  idle: LatencyLevel;
  saturated: LatencyLevel;
  /** Active render + render-avif jobs, sampled while the saturated level ran. */
  activeRenders: number[];
}

/** Uploads distinct copies of `source` (numbered from `first`), `concurrency` at a time, timing each to its 201. */
async function uploadLevel(
  stack: Stack,
  source: Buffer,
  label: string,
  { first, count, concurrency }: { first: number; count: number; concurrency: number },
): Promise<LatencyLevel> {
  const runs = Array.from({ length: count }, (_, i) => first + i);
  const before = await markCpu(stack);
  const latenciesMs = await mapConcurrently(runs, concurrency, async (run) => {
    const bytes = withComment(source, `bench latency ${run}`);
    const started = performance.now();
    await uploadImage(stack.url, bytes, `latency-${run}.jpg`, 'image/jpeg');
    return performance.now() - started;
  });
  return { label, concurrency, latenciesMs, cpu: cpuWindow(before, await markCpu(stack)) };
}

async function activeRenderJobs(queues: QueueClient): Promise<number> {
  const counts = await Promise.all([queues.queues.get('render')!.getActiveCount(), queues.queues.get('render-avif')!.getActiveCount()]);
  return counts[0] + counts[1];
}

async function measureUploadLatency(stack: Stack, source: Buffer): Promise<LatencyRun> {
  const { uploadsPerLevel: count, concurrency, sequentialUploads } = LATENCY;
  const queues = [...stack.queues.queues.values()];
  // Paused queues keep the worker process up but idle, and keep what these uploads enqueue as the backlog.
  await Promise.all(queues.map((queue) => queue.pause()));
  const sequential = await uploadLevel(stack, source, 'idle, one at a time', { first: 0, count: sequentialUploads, concurrency: 1 });
  const idle = await uploadLevel(stack, source, 'idle (queues paused)', { first: sequentialUploads, count, concurrency });
  await Promise.all(queues.map((queue) => queue.resume()));
  await waitFor('the worker to start rendering the backlog', async () => (await activeRenderJobs(stack.queues)) >= LATENCY.busyRenderJobs);

  const backlog = sequentialUploads + count;
  const activeRenderSamples = startSampler(250, () => activeRenderJobs(stack.queues));
  const saturated = await uploadLevel(stack, source, `saturated (backlog of ${backlog})`, { first: backlog, count, concurrency });
  const activeRenders = await activeRenderSamples.stop();
  return { sequential, idle, saturated, activeRenders };
}

// ---------------------------------------------------------------------------------------------------------
// Output.

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

const ms = (value: number) => `${Math.round(value)} ms`;
const sec = (valueMs: number) => `${(valueMs / 1000).toFixed(1)} s`;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
const cores = (value: number) => value.toFixed(2);
const perMinute = (images: number, wallMs: number) => (images / (wallMs / 60_000)).toFixed(1);


function describeProcess(service: Service): string {
  const jemalloc = hasLibraryMapped(service.pid, 'libjemalloc') ? 'jemalloc' : 'glibc malloc';
  return `${service.name} pid ${service.pid}: nice ${niceness(service.pid)}, ${jemalloc}`;
}

function describeInputs(inputs: Input[]): string {
  const photos = inputs.filter((input) => input.name.startsWith('photos/')).length;
  const megapixels = inputs.map((input) => (input.width * input.height) / 1e6);
  return (
    `${inputs.length} images (${photos} corpus photos + ${inputs.length - photos} Kodak PNGs, ` +
    `${Math.min(...megapixels).toFixed(2)}-${Math.max(...megapixels).toFixed(1)} MP, ` +
    `${(megapixels.reduce((a, b) => a + b, 0)).toFixed(1)} MP in total), 18 renditions each`
  );
}

// ---------------------------------------------------------------------------------------------------------

/** One throughput comparison: plain sharp before and after the pipeline on the same inputs. */
interface ThroughputRun {
  label: string;
  inputs: Input[];
  plainBefore: PlainRun;
  pipeline: PipelineRun;
  plainAfter: PlainRun;
}

interface Results {
  throughput: ThroughputRun[];
  ready: ReadyRun[];
  /** Plain sharp making the ready photo's 18 outputs, once per ready run. */
  readyPlain: PlainRun[];
  latency: LatencyRun;
  uploads: UploadBenchResult;
  workerPeakEnd: number;
  apiPeak: number;
}

/** bench:upload's comparison on this stack's API, with the worker idle: its queues paused, its jobs in flight done. */
async function compareUploads(stack: Stack): Promise<UploadBenchResult> {
  await Promise.all([...stack.queues.queues.values()].map((queue) => queue.pause()));
  await waitFor('the worker to finish its jobs in flight', async () => (await activeRenderJobs(stack.queues)) === 0, 300_000);
  return benchUploads({ api: { url: stack.url, pid: stack.api.pid } });
}

async function compareThroughput(stack: Stack, label: string, inputs: Input[], uploadConcurrency: number): Promise<ThroughputRun> {
  // Plain sharp runs before and after the pipeline, so drift in the machine's other load shows.
  const plainBefore = await runPlainSharp(stack, inputs);
  const pipeline = await runPipeline(stack, inputs, uploadConcurrency);
  const plainAfter = await runPlainSharp(stack, inputs);
  return { label, inputs, plainBefore, pipeline, plainAfter };
}

async function main(): Promise<void> {
  const six = await readInputs(SIX_PHOTOS);
  const corpus = await corpusInputs();
  const [readyInput] = await readInputs([READY.photo]);
  const photo = readyInput!.bytes;
  const latencySource = await sharp(photo).jpeg(LATENCY.jpeg).toBuffer();
  const loadAtStart = os.loadavg()[0]!;
  const stack = await startStack();
  const workerConcurrency = loadConfig(stack.env).worker.concurrency;
  console.log(
    `renditions bench, ${new Date().toISOString()}: ${os.availableParallelism()} cores (${os.cpus()[0]?.model.trim()}), ` +
      `sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}, load average ${loadAtStart.toFixed(2)} at start`,
  );
  console.log(`${describeProcess(stack.worker)}, WORKER_CONCURRENCY ${workerConcurrency}; ${describeProcess(stack.api)}\n`);

  await warmUp(stack, photo);
  const batch = (run: number) => compareThroughput(stack, '6 distinct photos uploaded at once', ownBytes(six, `batch ${run}`), six.length);
  const batchOnly = process.argv.indexOf('--batch');
  if (batchOnly >= 0) {
    const runs = Number(process.argv[batchOnly + 1] ?? 3) || 3;
    for (let run = 1; run <= runs; run++) printThroughput(await batch(run));
    return;
  }
  const throughput = [await batch(1), await compareThroughput(stack, 'the corpus set', ownBytes(corpus, 'corpus'), THROUGHPUT.uploadConcurrency)];
  const ready: ReadyRun[] = [];
  const readyPlain: PlainRun[] = [];
  for (let run = 1; run <= READY.repeats; run++) {
    ready.push(await measureReady(stack, photo, run));
    readyPlain.push(await runPlainSharp(stack, [readyInput!]));
  }
  const latency = await measureUploadLatency(stack, latencySource);
  const uploads = await compareUploads(stack);
  const results: Results = {
    throughput,
    ready,
    readyPlain,
    latency,
    uploads,
    workerPeakEnd: peakRssBytes(stack.worker.pid),
    apiPeak: peakRssBytes(stack.api.pid),
  };

  for (const run of throughput) printThroughput(run);
  printReady(results, photo);
  printLatency(results, latencySource);
  console.log(`\n## Upload against a bare express + multer server (worker idle: queues paused)\n\n${formatUploadBench(uploads)}`);
  printSummary(results, latencySource, loadAtStart, workerConcurrency);
}

/**
 * CPU seconds per image: the worker's (what compares with plain sharp) and the rest of the pipeline's (API,
 * Postgres, Redis), part of which serves this benchmark's polling.
 */
function pipelineCpuPerImage({ pipeline, inputs }: ThroughputRun): { worker: number; rest: number } {
  const { worker, api, postgres: database, redis } = pipeline.cpu.cpuSeconds;
  return { worker: worker! / inputs.length, rest: (api! + database! + redis!) / inputs.length };
}

function throughputRatios(run: ThroughputRun) {
  const { plainBefore, plainAfter, pipeline } = run;
  const plainWallMs = (plainBefore.wallMs + plainAfter.wallMs) / 2;
  const plainCpuPerImage = (plainBefore.cpuMs + plainAfter.cpuMs) / 2 / 1000 / plainBefore.images;
  // The bench's own client (uploading, reading events) is not the pipeline's work.
  const pipelineCpuSeconds = Object.entries(pipeline.cpu.cpuSeconds)
    .filter(([group]) => group !== 'client')
    .reduce((sum, [, seconds]) => sum + seconds, 0);
  return {
    plainWallMs,
    wall: plainWallMs / pipeline.wallMs,
    workerCpu: plainCpuPerImage / pipelineCpuPerImage(run).worker,
    pipelineCpuSeconds,
    plainCpuSeconds: plainCpuPerImage * plainBefore.images,
    // The CPU the pipeline spent, spread perfectly over every core, still takes this long: the best ratio it allows.
    ceiling: plainWallMs / ((pipelineCpuSeconds / os.availableParallelism()) * 1000),
  };
}

function printThroughput(run: ThroughputRun): void {
  const { inputs, plainBefore, pipeline, plainAfter } = run;
  const plainRow = (label: string, plain: PlainRun) => [
    label,
    sec(plain.wallMs),
    perMinute(plain.images, plain.wallMs),
    (plain.cpuMs / 1000 / plain.images).toFixed(2),
    `plain sharp ${cores(plain.cpuMs / plain.wallMs)} (main thread ${cores(plain.mainThreadCpuMs / plain.wallMs)})`,
    plain.runnableThreads.toFixed(1),
    cores(plain.othersCores),
    mib(plain.peakRssBytes),
  ];
  const ratios = throughputRatios(run);
  console.log(`## Throughput, ${run.label}: ${describeInputs(inputs)}\n`);
  console.log(
    table(
      ['run', 'wall', 'images/min', 'CPU s/image', 'cores used', 'runnable threads', 'other load (cores)', 'peak RSS'],
      [
        plainRow('plain sharp, before', plainBefore),
        [
          `pipeline (uploads took ${sec(pipeline.uploadsMs)})`,
          sec(pipeline.wallMs),
          perMinute(inputs.length, pipeline.wallMs),
          `worker ${pipelineCpuPerImage(run).worker.toFixed(2)} + rest ${pipelineCpuPerImage(run).rest.toFixed(2)}`,
          describeCores(pipeline.cpu),
          `worker ${pipeline.workerRunnableThreads.toFixed(1)}`,
          cores(pipeline.cpu.others),
          `worker ${mib(pipeline.workerPeakRss)}`,
        ],
        plainRow('plain sharp, after', plainAfter),
      ],
    ),
  );
  const drift = Math.abs(plainBefore.wallMs - plainAfter.wallMs) / Math.min(plainBefore.wallMs, plainAfter.wallMs);
  if (drift > PLAIN_DRIFT_WARNING) {
    console.log(
      `\nWARNING: plain sharp took ${sec(plainBefore.wallMs)} before and ${sec(plainAfter.wallMs)} after the pipeline: ` +
        `the machine's other load changed during the run, so the ratio below is unreliable; run again on a quieter machine.`,
    );
  }
  console.log(
    `\nplain sharp ran ${plainBefore.imagesInFlight} images at a time with the worker's nice and allocator (sharp threads ${plainBefore.sharpConcurrency}).` +
      `\npipeline / plain sharp, images per minute (plain: mean of before and after), uploads included: ${ratios.wall.toFixed(2)} (goal >= ${GOALS.throughput})` +
      `\nworker / plain sharp, images per CPU second: ${ratios.workerCpu.toFixed(2)} (the worker's extra work: strip, hashes, ` +
      `JavaScript, storage and database writes)` +
      `\nCPU: pipeline ${ratios.pipelineCpuSeconds.toFixed(2)} s (worker, API, PostgreSQL, Redis), plain sharp ${ratios.plainCpuSeconds.toFixed(2)} s; ` +
      `on ${os.availableParallelism()} fully used cores the pipeline's CPU alone allows at most ${ratios.ceiling.toFixed(2)}\n`,
  );
  const steps = (pick: (window: CpuWindow) => number) => pipeline.timeline.map((window) => pick(window).toFixed(1)).join(' ');
  console.log(`Cores used every ${THROUGHPUT.timelineMs / 1000} s of the pipeline run:`);
  console.log(`  worker      ${steps((window) => window.cores.worker!)}`);
  console.log(`  other load  ${steps((window) => window.others)}\n`);
  console.log('Worker queues during the pipeline run (from BullMQ event streams; run times are wall time, shared cores):\n');
  console.log(
    table(
      ['queue', 'jobs', 'busy (sum)', 'in flight (mean)', 'median run', 'max run', 'median wait', 'last done at', 'failed'],
      pipeline.stages.filter((stage) => stage.completed + stage.failed > 0).map((stage) => [
        stage.queue,
        String(stage.completed),
        sec(stage.busyMs),
        // Jobs running at once on average: a queue at its slot count all run long is the bottleneck.
        (stage.busyMs / pipeline.wallMs).toFixed(2),
        ms(stage.medianRunMs),
        ms(stage.maxRunMs),
        ms(stage.medianWaitMs),
        sec(stage.lastCompletedAt - pipeline.startedAt),
        String(stage.failed),
      ]),
    ),
  );
  console.log('');
}

function readyMedians({ ready, readyPlain }: Results) {
  const plainMs = median(readyPlain.map((run) => run.wallMs));
  const allMs = median(ready.map((run) => run.allMs));
  return {
    uploadMs: median(ready.map((run) => run.uploadMs)),
    firstMs: median(ready.map((run) => run.firstMs)),
    jpegWebpMs: median(ready.map((run) => run.jpegWebpMs)),
    allMs,
    plainMs,
    allVsPlain: allMs / plainMs,
  };
}

function printReady(results: Results, photo: Buffer): void {
  const medians = readyMedians(results);
  console.log(`\n## ${READY.photo} (12 MP, ${mb(photo.length)}), idle worker, timed from the image's live events\n`);
  console.log(
    table(
      ['run', 'upload (to 201)', '201 -> first rendition', '201 -> 12 JPEG+WebP', '201 -> all 18', 'plain sharp, 18 outputs'],
      [
        ...results.ready.map((run, i) => [
          String(i + 1),
          ms(run.uploadMs),
          ms(run.firstMs),
          ms(run.jpegWebpMs),
          ms(run.allMs),
          ms(results.readyPlain[i]!.wallMs),
        ]),
        [
          'median',
          ms(medians.uploadMs),
          `${ms(medians.firstMs)} (goal <= ${GOALS.firstRenditionMs} ms)`,
          `${ms(medians.jpegWebpMs)} (goal <= ${GOALS.jpegWebpMs} ms)`,
          `${ms(medians.allMs)} = ${medians.allVsPlain.toFixed(2)}x plain (goal <= ${GOALS.allVsPlain}x)`,
          ms(medians.plainMs),
        ],
      ],
    ),
  );
}

function p99Ratio({ latency }: Results): number {
  return percentile(latency.saturated.latenciesMs, 99) / percentile(latency.idle.latenciesMs, 99);
}

function printLatency(results: Results, source: Buffer): void {
  const { sequential, idle, saturated, activeRenders } = results.latency;
  console.log(
    `\n## Upload latency: ${mb(source.length)} 12 MP JPEGs (q${LATENCY.jpeg.quality} ${LATENCY.jpeg.chromaSubsampling}), ` +
      `each upload distinct bytes, timed to its 201\n`,
  );
  console.log(
    table(
      ['worker', 'uploads', 'at a time', 'p50', 'p99', 'mean', 'cores used', 'other load (cores)'],
      [sequential, idle, saturated].map((level) => [
        level.label,
        String(level.latenciesMs.length),
        String(level.concurrency),
        ms(percentile(level.latenciesMs, 50)),
        ms(percentile(level.latenciesMs, 99)),
        ms(mean(level.latenciesMs)),
        describeCores(level.cpu),
        cores(level.cpu.others),
      ]),
    ),
  );
  console.log(
    `\np99 saturated / p99 idle: ${p99Ratio(results).toFixed(2)} (goal <= 1.5; p99 of ${LATENCY.uploadsPerLevel} is the slowest). ` +
      `Active render jobs while saturated: ${Math.min(...activeRenders)}-${Math.max(...activeRenders)} in ${activeRenders.length} samples.`,
  );
}

function printSummary(results: Results, latencySource: Buffer, loadAtStart: number, workerConcurrency: number): void {
  const { throughput, latency } = results;
  const ready = readyMedians(results);
  const p = (level: LatencyLevel) => `${ms(percentile(level.latenciesMs, 50))}/${ms(percentile(level.latenciesMs, 99))}`;
  const workerPeak = Math.max(...throughput.map((run) => run.pipeline.workerPeakRss), results.workerPeakEnd);
  const plainPeak = Math.max(...throughput.flatMap((run) => [run.plainBefore.peakRssBytes, run.plainAfter.peakRssBytes]));
  console.log('\n## Summary\n');
  console.log(
    [
      ...throughput.map((run) => {
        const ratios = throughputRatios(run);
        return (
          `- Throughput, ${run.label} (${run.inputs.length} images x 18 renditions, uploads included) on ${os.availableParallelism()} cores: ` +
          `pipeline ${perMinute(run.inputs.length, run.pipeline.wallMs)} images/min, plain sharp ` +
          `${perMinute(run.inputs.length, ratios.plainWallMs)}: ratio ${ratios.wall.toFixed(2)} (goal >= ${GOALS.throughput}); ` +
          `worker / plain sharp per CPU second ${ratios.workerCpu.toFixed(2)}; the pipeline's CPU on fully used cores allows at most ${ratios.ceiling.toFixed(2)}.`
        );
      }),
      `- 12 MP upload on an idle worker (median of ${READY.repeats}): first rendition ${ms(ready.firstMs)} after the 201 ` +
        `(goal <= ${GOALS.firstRenditionMs} ms), 12 JPEG+WebP ${ms(ready.jpegWebpMs)} (goal <= ${GOALS.jpegWebpMs} ms), all 18 ` +
        `${ms(ready.allMs)}: ${ready.allVsPlain.toFixed(2)}x plain sharp's ${ms(ready.plainMs)} (goal <= ${GOALS.allVsPlain}x).`,
      `- Upload of a ${mb(latencySource.length)} 12 MP JPEG, ${LATENCY.concurrency} at a time, p50/p99: ${p(latency.idle)} ` +
        `with the worker idle, ${p(latency.saturated)} with it saturated: p99 ratio ${p99Ratio(results).toFixed(2)} ` +
        `(goal <= 1.5); one at a time ${p(latency.sequential)}.`,
      ...results.uploads.levels.map(
        (level) =>
          `- Upload, ${level.concurrency} at a time, p50/p99: ${ms(percentile(level.api.latenciesMs, 50))}/${ms(percentile(level.api.latenciesMs, 99))} ` +
          `against the bare multer server's ${ms(percentile(level.reference.latenciesMs, 50))}/${ms(percentile(level.reference.latenciesMs, 99))}: ` +
          `${(percentile(level.api.latenciesMs, 50) / percentile(level.reference.latenciesMs, 50)).toFixed(2)}x / ` +
          `${(percentile(level.api.latenciesMs, 99) / percentile(level.reference.latenciesMs, 99)).toFixed(2)}x (goal <= ${GOALS.uploadVsReference}x).`,
      ),
      `- Peak RSS: worker ${mib(workerPeak)} (goal <= ${GOALS.workerRssMiB} MiB); plain sharp ${mib(plainPeak)}; API ${mib(results.apiPeak)}.`,
      `- Worker at nice ${WORKER_NICENESS} with ${WORKER_HAS_JEMALLOC ? 'jemalloc' : 'glibc malloc'}, WORKER_CONCURRENCY ` +
        `${workerConcurrency}. Other load on the machine (cores; per throughput run plain, pipeline, plain; uploads idle, saturated): ` +
        `${[...throughput.flatMap((run) => [run.plainBefore.othersCores, run.pipeline.cpu.others, run.plainAfter.othersCores]), latency.idle.cpu.others, latency.saturated.cpu.others].map(cores).join(', ')}; ` +
        `load average ${loadAtStart.toFixed(2)} at start, ${os.loadavg()[0]!.toFixed(2)} at end.`,
    ].join('\n'),
  );
}

/** At LOG_LEVEL=warn a clean run logs nothing; anything logged is worth seeing next to the numbers. */
async function reportLogs(dir: string): Promise<void> {
  for (const name of ['api', 'worker', 'plain-sharp']) {
    const lines = (await readFile(path.join(dir, `${name}.log`), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    if (lines.length === 0) continue;
    console.log(`\n${name} logged ${lines.length} line(s); the first ones:\n${lines.slice(0, 5).join('\n')}`);
  }
}

process.once('SIGINT', () => void runCleanups(cleanups).finally(() => process.exit(130)));
process.once('SIGTERM', () => void runCleanups(cleanups).finally(() => process.exit(143)));
try {
  await main();
} finally {
  if (logDir) await reportLogs(logDir);
  await runCleanups(cleanups);
}
