/**
 * `npm run bench:backfill [-- --assets 300 --runs 3]`: how much a backfill (`npm run reprocess`) slows a new upload.
 *
 * Starts a throwaway stack the way `npm start` does (API and worker as separate processes, the worker at nice 10
 * with jemalloc, default settings: WORKER_CONCURRENCY = the cores) on its own database, queue prefix and storage
 * directory, then:
 *  1. seeds `--assets` distinct ready assets (camera and web photos of 0.3 to 12 MP, round-robin, each made
 *     distinct by a JPEG comment) through the API and the worker;
 *  2. times a new 12 MP upload's 201 -> 12 JPEG+WebP ready (its live events), `--runs` times, worker idle;
 *  3. runs `npm run reprocess` (no filter: every rendition of every asset) and, while the backfill renders, times
 *     `--runs` new uploads the same way; each run checks that the backfill was still going when it ended;
 *  4. waits for the backfill to finish and checks that every image stayed ready.
 * The goal: during the backfill, within 2x the idle time. The machine's other load (load average, cores
 * used by others) is printed with each phase: on a shared machine it moves every number here.
 * Everything the run created (processes, database, Redis keys, files) is removed at the end, also on failure.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import type { ImageResource } from '@renditions/pipeline';
import { readCorpus } from '../../test/support/corpus';
import { upload } from '../../test/support/http';
import { readEventStream } from '../../test/support/sse';
import { API_MALLOC_ENV, WORKER_MALLOC_ENV, WORKER_NICENESS } from '../process-env';
import { benchEnv, freePort, launchEntry, runCleanups, table, throwawayBackends, waitFor, withComment, type Cleanups } from './harness';
import { machineBusySeconds, processCpuSeconds } from './proc';
import { median } from './stages';

/** What the backfill re-renders: photos of every size an image host gets, 0.3 to 12 MP. */
const SEED_PHOTOS = [
  'photos/DSCN0010.jpg',
  'photos/DSCN0021.jpg',
  'photos/DSCN0029.jpg',
  'photos/DSCN0040.jpg',
  'photos/nikon-e950.jpg',
  'photos/canon_hdr_NO.jpg',
  'photos/canon_hdr_YES.jpg',
  'photos/jolla.jpg',
  'photos/HMD_Nokia_8.3_5G.jpg',
  'photos/42_IndexError.jpg',
];
/** The new upload that is timed: the 12 MP photo of bench:renditions. */
const MEASURED_PHOTO = 'photos/42_IndexError.jpg';
const SEED_CONCURRENCY = 4;
const GOAL_RATIO = 2;

const { values: args } = parseArgs({
  options: { assets: { type: 'string', default: '300' }, runs: { type: 'string', default: '3' } },
  strict: true,
});
const ASSETS = Number(args.assets);
const RUNS = Number(args.runs);
if (!Number.isInteger(ASSETS) || ASSETS < 1 || !Number.isInteger(RUNS) || RUNS < 1) {
  throw new Error(`Expected positive integers for --assets and --runs but received ${args.assets} and ${args.runs}`);
}

// ---------------------------------------------------------------------------------------------------------
// The stack, and how to take all of it down again.

interface Stack {
  url: string;
  /** A connection to the bench's own database, for progress counts. */
  db: postgres.Sql;
  env: NodeJS.ProcessEnv;
  dir: string;
  worker: ChildProcess;
}

/** Undo steps, run last-in first-out at the end of the run whatever happened. */
const cleanups: Cleanups = [];
let logDir: string | undefined;

async function startStack(): Promise<Stack> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'renditions-backfill-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  logDir = dir;
  const backends = await throwawayBackends('bench', cleanups);
  const db = postgres(backends.databaseUrl, { max: 1, onnotice: () => undefined });
  cleanups.push(() => db.end());
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = benchEnv(backends, dir, port);
  launch('api', 'apps/api/src/main.ts', [], { ...env, ...API_MALLOC_ENV }, dir);
  const worker = launch('worker', 'apps/worker/src/main.ts', [], { ...env, ...WORKER_MALLOC_ENV }, dir, WORKER_NICENESS);
  await waitFor('the API to answer /healthz', async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true);
  return { url, db, env, dir, worker };
}

function launch(name: string, entry: string, args: string[], env: NodeJS.ProcessEnv, dir: string, nice = 0): ChildProcess {
  return launchEntry(name, entry, { args, env, dir, cleanups, nice });
}

/** Runs a script to its end (the reprocess command), its output to <dir>/<name>.log. */
async function runToEnd(name: string, entry: string, args: string[], stack: Stack): Promise<string> {
  const child = launch(name, entry, args, stack.env, stack.dir);
  const code = await new Promise((resolve) => child.once('exit', resolve));
  const output = await readFile(path.join(stack.dir, `${name}.log`), 'utf8');
  if (code !== 0) throw new Error(`${entry} exited with ${code}:\n${output}`);
  return output;
}

// ---------------------------------------------------------------------------------------------------------
// Inputs and measures.

async function uploadOne(url: string, bytes: Buffer): Promise<string> {
  const response = await upload(url, bytes, { filename: 'photo.jpg', type: 'image/jpeg' });
  const body = await response.text();
  if (response.status !== 201) throw new Error(`upload: ${response.status} ${body}`);
  return (JSON.parse(body) as ImageResource).id;
}

async function count(stack: Stack, query: string): Promise<number> {
  const [row] = await stack.db.unsafe<{ n: number }[]>(query);
  return Number(row?.n ?? 0);
}

const readyAssets = (stack: Stack) => count(stack, `select count(*)::int as n from assets where status = 'ready'`);
const notReadyAssets = (stack: Stack) => count(stack, `select count(*)::int as n from assets where status <> 'ready'`);
const backfillLeft = (stack: Stack) => count(stack, `select count(*)::int as n from renditions where reprocess is not null`);

async function seed(stack: Stack): Promise<number> {
  const photos = SEED_PHOTOS.map((name) => readCorpus(name));
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < ASSETS; i = next++) await uploadOne(stack.url, withComment(photos[i % photos.length]!, `backfill seed ${i}`));
  };
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, lane));
  await waitFor(`${ASSETS} seeded assets to be ready`, async () => (await readyAssets(stack)) >= ASSETS, 30 * 60_000);
  if ((await notReadyAssets(stack)) > 0) throw new Error('a seeded asset did not settle ready');
  return performance.now() - started;
}

interface Run {
  jpegWebpMs: number;
  /** Renditions the backfill still had to re-render when the run ended (0: it had finished: not a loaded run). */
  backfillLeft?: number;
}

/** 201 -> the 12 JPEG+WebP renditions ready, from the image's live events (sent state first: nothing is missed). */
async function timeNewUpload(stack: Stack, photo: Buffer, label: string): Promise<number> {
  const id = await uploadOne(stack.url, withComment(photo, label));
  const created = performance.now();
  let jpegWebp: number | undefined;
  const response = await fetch(`${stack.url}/api/v1/images/${id}/events`);
  await readEventStream(response, (event) => {
    const image = (JSON.parse(event.data) as { data: ImageResource }).data;
    const ready = image.renditions.filter((rendition) => rendition.status === 'ready' && rendition.format !== 'avif');
    if (ready.length === 12) jpegWebp ??= performance.now();
  });
  if (jpegWebp === undefined) throw new Error(`image ${id} settled without its 12 JPEG+WebP renditions`);
  return jpegWebp - created;
}

interface Load {
  loadAverage: number[];
  /** Cores busy on the whole machine, and used by the worker, over the phase. */
  machineCores: number;
  workerCores: number;
}

async function measured<T>(stack: Stack, phase: () => Promise<T>): Promise<{ result: T; load: Load }> {
  const at = performance.now();
  const machine = machineBusySeconds();
  const worker = processCpuSeconds(stack.worker.pid!);
  const result = await phase();
  const seconds = (performance.now() - at) / 1000;
  return {
    result,
    load: {
      loadAverage: os.loadavg(),
      machineCores: (machineBusySeconds() - machine) / seconds,
      workerCores: (processCpuSeconds(stack.worker.pid!) - worker) / seconds,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  console.log(`bench:backfill on ${os.availableParallelism()} cores, load average ${os.loadavg().map((n) => n.toFixed(2)).join(' ')} at start`);
  const stack = await startStack();
  const photo = readCorpus(MEASURED_PHOTO);

  const seeding = await measured(stack, () => seed(stack));
  console.log(`seeded ${ASSETS} ready assets in ${(seeding.result / 1000).toFixed(1)} s`);

  // A warm-up upload: code paths, caches and connections, not measured.
  await timeNewUpload(stack, photo, 'bench warm-up');
  const idle = await measured(stack, async () => {
    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i += 1) runs.push({ jpegWebpMs: await timeNewUpload(stack, photo, `bench idle ${i}`) });
    return runs;
  });

  const backfillStarted = performance.now();
  const command = await runToEnd('reprocess', 'scripts/reprocess.ts', [], stack);
  // Under way: the worker has taken backfill jobs and its cores are busy with them.
  await sleep(3000);
  const loaded = await measured(stack, async () => {
    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const jpegWebpMs = await timeNewUpload(stack, photo, `bench loaded ${i}`);
      runs.push({ jpegWebpMs, backfillLeft: await backfillLeft(stack) });
    }
    return runs;
  });
  const stillRunning = loaded.result.every((run) => (run.backfillLeft ?? 0) > 0);
  const rest = await measured(stack, () => waitFor('the backfill to finish', async () => (await backfillLeft(stack)) === 0, 60 * 60_000));
  const backfillMs = performance.now() - backfillStarted;
  const notReady = await notReadyAssets(stack);

  const idleMs = median(idle.result.map((run) => run.jpegWebpMs));
  const loadedMs = median(loaded.result.map((run) => run.jpegWebpMs));
  const ms = (value: number) => `${Math.round(value)} ms`;
  const describeLoad = (load: Load) =>
    `machine ${load.machineCores.toFixed(2)} cores (worker ${load.workerCores.toFixed(2)}), load average ${load.loadAverage.map((n) => n.toFixed(2)).join(' ')}`;

  console.log(`\nreprocess: ${command.trim().split('\n')[0]}`);
  console.log(`\n## ${MEASURED_PHOTO} (12 MP): a new upload's 201 -> 12 JPEG+WebP ready\n`);
  console.log(
    table(
      ['phase', ...idle.result.map((_, i) => `run ${i + 1}`), 'median', 'load during the phase'],
      [
        ['worker idle', ...idle.result.map((run) => ms(run.jpegWebpMs)), ms(idleMs), describeLoad(idle.load)],
        [
          `during the backfill of ${ASSETS} assets`,
          ...loaded.result.map((run) => `${ms(run.jpegWebpMs)} (${run.backfillLeft} left)`),
          ms(loadedMs),
          describeLoad(loaded.load),
        ],
      ],
    ),
  );
  console.log(`\nratio during backfill / idle: ${(loadedMs / idleMs).toFixed(2)}x (goal <= ${GOAL_RATIO}x)`);
  if (!stillRunning) console.log('WARNING: the backfill finished before the last run: run again with more --assets');
  console.log(
    `backfill: every rendition of ${ASSETS + RUNS + 1} assets in ${(backfillMs / 1000).toFixed(1)} s, the measured uploads' ` +
      `time included (${((ASSETS * 60_000) / backfillMs).toFixed(0)} assets/min); after the runs: ${describeLoad(rest.load)}`,
  );
  console.log(`images not ready at the end: ${notReady} (every image stays ready through a backfill)`);
  if (notReady > 0) process.exitCode = 1;
}

/** At LOG_LEVEL=warn a clean run logs nothing; anything logged is worth seeing next to the numbers. */
async function reportLogs(dir: string): Promise<void> {
  for (const name of ['api', 'worker']) {
    const lines = (await readFile(path.join(dir, `${name}.log`), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    if (lines.length > 0) console.log(`\n${name} logged ${lines.length} line(s); the first ones:\n${lines.slice(0, 5).join('\n')}`);
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
