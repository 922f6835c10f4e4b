/**
 * `npm run bench:abuse`: the public edge under abuse (issue 8, "What it must show"), measured in one run.
 *
 * Starts a throwaway API process the way `npm run start:api` does (node --import tsx, NODE_ENV=production,
 * production edge limits: EDGE_LIMITS in apps/api/src/server.ts) on its own database, queue prefix, storage and
 * temporary directory (TMPDIR, so upload spool files stay inside it), with RATE_LIMIT_UPLOADS_PER_MINUTE=0 so the
 * memory phase measures memory and not the rate limit (0 also turns off the per-client cap of 4 uploads at once).
 * A worker runs only at the start, until the probe image's metadata-free original is stored (so the GET probe
 * serves a stored file, as in production), and is stopped before anything is measured. Then it measures (run
 * in the order b, c, a, a2, so that the memory phase starts on an API that has seen nothing else; the API's memory
 * after each phase is printed as well):
 *
 *  (a) slowloris: 10,000 slow connections from 8 loopback addresses (127.0.0.2-9). Half send a partial request
 *      head (`GET /healthz` with an unfinished header), half a complete upload head and the start of a multipart
 *      file part (so the API opens a spool file for each), then every connection drips one byte every 5 s, and a
 *      connection the server closed is reopened at its next drip, as slowloris.py does: the client keeps trying
 *      to hold 10,000 open. During a 20 s hold, 20 probes of /healthz and of GET /i/<id>.jpg (a stored image),
 *      each on a new connection from 127.0.0.100; the API's file descriptors (/proc/<pid>/fd) sampled every 250 ms.
 *  (a2) the same 10,000 from 250 addresses (127.1.0.1-250, 40 each, under the per-address cap of 64): not a target
 *      of the issue, which says "a handful of addresses"; it shows what the process-wide cap (maxConnections) does.
 *  (b) 50 concurrent uploads of distinct ~20 MB PNGs (random pixels, stored uncompressed, 6.7 MP: under
 *      MAX_UPLOAD_BYTES and MAX_INPUT_PIXELS), each from its own address (127.0.0.10-59: the per-address
 *      connection cap stays out of the way; with the limits off, a Client-ID would change nothing); API RSS before,
 *      peak (VmHWM, reset through /proc/<pid>/clear_refs, and VmRSS sampled every 100 ms) and 10 s after the last
 *      answer.
 *  (c) three rounds of six concurrent uploads of the F8 PNG (1,745,000 empty IDAT chunks, 20.9 MB) from
 *      127.0.0.110-115, while 127.0.0.101 times /healthz round trips every 10 ms on one keep-alive connection (the
 *      dedicated lag probe); the API's own nodejs_eventloop_lag_p99_seconds is scraped right before (which resets
 *      it) and right after the three rounds.
 * and prints each against its target, PASS or MISS.
 *
 * Options (after `npm run bench:abuse --`): `--phases b,c,a,a2` runs only those; `--api-env KEY=VALUE` (repeatable)
 * sets a variable for the API process (and the short-lived worker), e.g. `--api-env MALLOC_ARENA_MAX=2` or
 * `--api-env RATE_LIMIT_UPLOADS_PER_MINUTE=30` to see the slow connections against the production rate limit.
 *
 * Network: every connection goes to 127.0.0.1 (the API listens where main.ts puts it); client sockets bind to
 * addresses in 127.0.0.0/8 (Linux routes all of it to lo, no setup needed). Bounded: ~80 s, at most 10,000 slow
 * sockets at a time, a watchdog ends the run at 170 s. Every socket, request, agent and process started here is
 * closed at the end, also on failure and on SIGINT/SIGTERM; the database, Redis keys and directory are removed.
 *
 * File descriptors: the bench holds up to ~10,100 sockets and the API up to its maxConnections (4,000) plus spool
 * files. Node raises its own soft RLIMIT_NOFILE to the hard limit at startup, and the API inherits the bench's
 * limits, so the hard limit must be at least ~11,000: the run checks /proc/self/limits and stops at once if not.
 * Raise it with `bash -c 'ulimit -n 65536 && npm run bench:abuse'` (as root, or within the hard limit), or
 * `prlimit --nofile=65536:65536 npm run bench:abuse`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import net, { type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import sharp from 'sharp';
import { migrateDatabase } from '@renditions/db';
import { AFTER_IHDR, idatBombPng, incompressiblePng, pngChunk } from '../../libs/imaging/test/png-builders';
import { sampleValue } from '../../test/support/prometheus';
import { API_MALLOC_ENV } from '../process-env';
import { peakRssBytes } from './proc';
import { median } from './stages';
import { deleteKeys, freePort, percentile, stop, table, waitFor } from './harness';

const ROOT = path.resolve(import.meta.dirname, '../..');
const POSTGRES_SERVER = 'postgres://postgres@127.0.0.1:5432';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const HOST = '127.0.0.1';
/** The whole run ends here, whatever it is doing. */
const RUN_DEADLINE_MS = 170_000;

const SLOW = {
  connections: 10_000,
  dripEveryMs: 5_000,
  tickMs: 50,
  /** Probing starts once every connection has been tried once (one drip interval) and lasts this long. */
  holdMs: 20_000,
  probes: 20,
  probeTimeoutMs: 5_000,
  /** A connection the server closes unanswered this soon after the handshake was refused at accept. */
  refusedWithinMs: 5_000,
  /** Below any body the API accepts: a drip can never complete it. */
  declaredBodyBytes: 1_000_000,
};
const ADDRESSES = {
  control: '127.0.0.1',
  slow: range(8, (i) => `127.0.0.${2 + i}`),
  distributed: range(250, (i) => `127.1.0.${1 + i}`),
  uploads: range(50, (i) => `127.0.0.${10 + i}`),
  probe: '127.0.0.100',
  lagProbe: '127.0.0.101',
  bombs: range(6, (i) => `127.0.0.${110 + i}`),
};
const UPLOADS = { pngBytes: 20_000_000, timeoutMs: 90_000, settleMs: 10_000, sampleMs: 100 };
/** Three rounds of six: ~250 round trips, so that p99 is not simply the slowest one (one round gives ~80). */
const BOMB = { emptyIdatChunks: 1_745_000, rounds: 3, probeEveryMs: 10, baselineMs: 1_000, timeoutMs: 60_000 };
const TARGETS = { latencyMs: 1_000, fds: 4_500, rssPeakBytes: 400e6, rssAfterBytes: 250e6, lagP99Ms: 50 };

const PHASES = ['b', 'c', 'a', 'a2'] as const;
type Phase = (typeof PHASES)[number];

/**
 * Command line: `--phases b,c` runs only those (default: all four, always in the order b, c, a, a2);
 * `--api-env KEY=VALUE` (repeatable) sets an environment variable for the API process only.
 */
const OPTIONS = parseOptions(process.argv.slice(2));

function parseOptions(args: string[]): { phases: Set<Phase>; apiEnv: Record<string, string> } {
  const phases = new Set<Phase>(PHASES);
  const apiEnv: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const [flag, value] = [args[i], args[i + 1]];
    if (flag === '--phases' && value) {
      phases.clear();
      for (const phase of value.split(',')) {
        if (!PHASES.includes(phase as Phase)) throw new Error(`--phases: unknown phase "${phase}" (known: ${PHASES.join(', ')})`);
        phases.add(phase as Phase);
      }
    } else if (flag === '--api-env' && value?.includes('=')) {
      apiEnv[value.slice(0, value.indexOf('='))] = value.slice(value.indexOf('=') + 1);
    } else {
      throw new Error(`unknown argument "${flag}"; usage: bench:abuse [--phases b,c,a,a2] [--api-env KEY=VALUE]...`);
    }
    i += 1;
  }
  return { phases, apiEnv };
}

function range<T>(count: number, item: (i: number) => T): T[] {
  return Array.from({ length: count }, (_, i) => item(i));
}

// ---------------------------------------------------------------------------------------------------------
// Everything started here, and how to take it down again.

/** Undo steps, run last-in first-out at the end of the run whatever happened. */
const cleanups: Array<() => Promise<void>> = [];
/** Client sockets and requests in flight: destroyed by the cleanup if the run ends early. */
const liveSockets = new Set<Socket>();
const liveRequests = new Set<http.ClientRequest>();
let cleaningUp: Promise<void> | undefined;

function cleanUp(): Promise<void> {
  cleaningUp ??= (async () => {
    for (const request of liveRequests) request.destroy();
    for (const socket of liveSockets) socket.destroy();
    while (cleanups.length > 0) await cleanups.pop()!().catch((error) => console.error('cleanup step failed:', error));
  })();
  return cleaningUp;
}

interface Stack {
  port: number;
  url: string;
  dir: string;
  api: ChildProcess;
  apiPid: number;
  env: NodeJS.ProcessEnv;
}

async function startStack(): Promise<Stack> {
  const suffix = randomBytes(6).toString('hex');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'renditions-abuse-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'tmp'));

  const databaseName = `renditions_abuse_${suffix}`;
  const admin = postgres(`${POSTGRES_SERVER}/postgres`, { max: 1, onnotice: () => undefined });
  cleanups.push(() => admin.end());
  cleanups.push(async () => void (await admin.unsafe(`drop database if exists "${databaseName}" with (force)`)));
  await migrateDatabase(`${POSTGRES_SERVER}/${databaseName}`);

  const prefix = `{abuse-${suffix}}`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  cleanups.push(async () => {
    await deleteKeys(redis, `${prefix}:*`);
    redis.disconnect();
  });

  const port = await freePort(HOST);
  const url = `http://${HOST}:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    DATABASE_URL: `${POSTGRES_SERVER}/${databaseName}`,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    STORAGE_DRIVER: 'local',
    STORAGE_DIR: path.join(dir, 'objects'),
    // Upload spool files (receive-upload.ts writes them under os.tmpdir()) stay in the run's directory.
    TMPDIR: path.join(dir, 'tmp'),
    PORT: String(port),
    PUBLIC_BASE_URL: url,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_UPLOADS_PER_MINUTE: '0',
    WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
    WORKER_METRICS_PORT: '0',
    // As npm start and docker compose run the API.
    ...API_MALLOC_ENV,
  };
  // --api-env KEY=VALUE (repeatable), e.g. to try LD_PRELOAD=<jemalloc> or MALLOC_ARENA_MAX.
  Object.assign(env, OPTIONS.apiEnv);
  const api = launch('api', 'apps/api/src/main.ts', env, dir);
  await waitFor('the API to answer /healthz', async () => (await get(port, '/healthz', ADDRESSES.control).catch(() => undefined))?.status === 200, 60_000);
  return { port, url, dir, api, apiPid: api.pid!, env };
}

/** `node --import tsx <entry>`, as the npm scripts start it; output to <dir>/<name>.log. */
function launch(name: string, entry: string, env: NodeJS.ProcessEnv, dir: string): ChildProcess {
  const log = openSync(path.join(dir, `${name}.log`), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry)], {
    cwd: ROOT,
    env,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  // Graceful first, so the API closes its connections and its database pool.
  cleanups.push(() => stop(child, 5_000));
  return child;
}




/** The soft limit on open files of a process, from /proc/<pid>/limits. */
function openFilesLimit(pid: number | 'self'): number {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return match?.[1] === 'unlimited' ? Infinity : Number(match?.[1]);
}

// ---------------------------------------------------------------------------------------------------------
// /proc readings of the API process (proc.ts has CPU and VmHWM; these are the current values).

function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Resets VmHWM (peak RSS) to the current RSS: proc(5), clear_refs value 5. */
function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

interface FdCount {
  total: number;
  sockets: number;
  files: number;
}

function countFds(pid: number, detail: boolean): FdCount {
  const fds = readdirSync(`/proc/${pid}/fd`);
  if (!detail) return { total: fds.length, sockets: Number.NaN, files: Number.NaN };
  let sockets = 0;
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets += 1;
    } catch {
      // Closed between listing and reading.
    }
  }
  return { total: fds.length, sockets, files: fds.length - sockets };
}

/** Calls `read` every `everyMs` until stopped; returns what it read. */
function startSampler<T>(everyMs: number, read: () => T): { stop(): T[] } {
  const values: T[] = [];
  const take = () => {
    try {
      values.push(read());
    } catch {
      // The process is gone: the phase fails on its own.
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return values;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// HTTP as a client does it, from a chosen loopback address.

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

interface RequestOptions {
  method?: string;
  path: string;
  localAddress: string;
  headers?: http.OutgoingHttpHeaders;
  /** Written in order: one large buffer can be sent many times without a copy. */
  body?: Buffer[];
  /** A keep-alive agent; by default every request opens (and closes) its own connection. */
  agent?: http.Agent;
  timeoutMs?: number;
}

function request(port: number, options: RequestOptions): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: HOST,
      port,
      method: options.method ?? 'GET',
      path: options.path,
      localAddress: options.localAddress,
      headers: options.headers,
      agent: options.agent ?? false,
    });
    liveRequests.add(req);
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs ?? 10_000);
    const done = () => {
      clearTimeout(timer);
      liveRequests.delete(req);
    };
    req.once('error', (error) => {
      done();
      reject(error);
    });
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', (error) => {
        done();
        reject(error);
      });
      res.once('end', () => {
        done();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started });
      });
    });
    for (const part of options.body ?? []) req.write(part);
    req.end();
  });
}

function get(port: number, urlPath: string, localAddress: string, timeoutMs = 10_000): Promise<Answer> {
  return request(port, { path: urlPath, localAddress, timeoutMs });
}

const BOUNDARY = 'abuse-bench-boundary';

/** A multipart/form-data upload of one file in the `image` field, as parts to write in order. */
function multipartUpload(file: Buffer[], filename: string, type: string): { headers: http.OutgoingHttpHeaders; body: Buffer[] } {
  const head = Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  const body = [head, ...file, tail];
  return {
    headers: {
      'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`,
      'Content-Length': body.reduce((sum, part) => sum + part.length, 0),
    },
    body,
  };
}

function upload(port: number, localAddress: string, file: Buffer[], filename: string, type: string, timeoutMs: number) {
  const { headers, body } = multipartUpload(file, filename, type);
  return request(port, { method: 'POST', path: '/api/v1/images', localAddress, headers, body, timeoutMs });
}

interface Probe {
  ms: number;
  /** The HTTP status, or the error's code when there was no answer. */
  outcome: string;
  ok: boolean;
}

async function probe(port: number, urlPath: string, localAddress: string): Promise<Probe> {
  const started = performance.now();
  try {
    const answer = await get(port, urlPath, localAddress, SLOW.probeTimeoutMs);
    return { ms: answer.ms, outcome: String(answer.status), ok: answer.status === 200 };
  } catch (error) {
    return { ms: performance.now() - started, outcome: (error as NodeJS.ErrnoException).code ?? 'timeout', ok: false };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Setup: the image the GET probe fetches, stored as in production.

async function prepareProbeImage(stack: Stack): Promise<{ path: string; bytes: number }> {
  const { data, info } = await sharp(randomBytes(1024 * 768 * 3), { raw: { width: 1024, height: 768, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer({ resolveWithObject: true });
  const answer = await upload(stack.port, ADDRESSES.control, [data], 'probe.jpg', 'image/jpeg', 30_000);
  if (answer.status !== 201) throw new Error(`probe image upload: ${answer.status} ${answer.body.toString()}`);
  const { id } = JSON.parse(answer.body.toString()) as { id: string };
  const imagePath = `/i/${id}.jpg`;
  // The worker's strip stage stores the metadata-free original; until then the API strips on every request.
  const worker = launch('worker', 'apps/worker/src/main.ts', stack.env, stack.dir);
  await waitFor(
    'the worker to store the probe image',
    async () => /immutable/.test(String((await get(stack.port, imagePath, ADDRESSES.control)).headers['cache-control'])),
    60_000,
  );
  await stop(worker, 5_000);
  return { path: imagePath, bytes: info.size };
}

// ---------------------------------------------------------------------------------------------------------
// (a) Slow connections.

type SlowKind = 'head' | 'body';

interface Slot {
  kind: SlowKind;
  address: string;
  socket?: Socket;
  connectedAt?: number;
  answered?: string;
}

interface SlowCounts {
  attempts: number;
  connected: number;
  /** Closed by the server, unanswered, within SLOW.refusedWithinMs of the handshake: refused at accept. */
  refused: number;
  /** Answered by the server (408 for a head that never ends), by status. */
  answered: Map<string, number>;
  /** Closed by the server, unanswered, after being held: the body-rate limit cutting a dripping body. */
  cutUnanswered: number;
  /** Never connected (reset during the handshake, or still connecting when stopped). */
  connectFailed: number;
}

/**
 * Tries to hold `connections` slow connections: slot i acts every dripEveryMs at its own phase, dripping a byte
 * if its connection is up, opening it again if the server closed it.
 */
class SlowClients {
  readonly slots: Slot[];
  readonly counts: SlowCounts = { attempts: 0, connected: 0, refused: 0, answered: new Map(), cutUnanswered: 0, connectFailed: 0 };
  open = 0;
  private tick = 0;
  private timer?: NodeJS.Timeout;
  private stopping = false;

  constructor(
    private readonly port: number,
    addresses: string[],
    connections: number,
  ) {
    this.slots = range(connections, (i) => ({ kind: i % 2 === 0 ? 'head' : 'body', address: addresses[i % addresses.length]! }));
  }

  start(): void {
    this.timer = setInterval(() => this.step(), SLOW.tickMs);
  }

  private step(): void {
    const groups = SLOW.dripEveryMs / SLOW.tickMs;
    for (let i = this.tick++ % groups; i < this.slots.length; i += groups) {
      const slot = this.slots[i]!;
      if (!slot.socket) this.connect(slot);
      else if (slot.connectedAt !== undefined) slot.socket.write('a');
    }
  }

  private connect(slot: Slot): void {
    this.counts.attempts += 1;
    const socket = net.connect({ host: HOST, port: this.port, localAddress: slot.address });
    liveSockets.add(socket);
    slot.socket = socket;
    slot.connectedAt = undefined;
    slot.answered = undefined;
    socket.once('connect', () => {
      slot.connectedAt = performance.now();
      this.counts.connected += 1;
      this.open += 1;
      socket.write(slot.kind === 'head' ? SLOW_HEAD : SLOW_BODY_START);
    });
    socket.on('data', (chunk: Buffer) => {
      slot.answered ??= /^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1', 0, 12))?.[1] ?? 'other';
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      liveSockets.delete(socket);
      slot.socket = undefined;
      if (slot.connectedAt !== undefined) this.open -= 1;
      if (this.stopping) return;
      const { counts } = this;
      if (slot.connectedAt === undefined) counts.connectFailed += 1;
      else if (slot.answered) counts.answered.set(slot.answered, (counts.answered.get(slot.answered) ?? 0) + 1);
      else if (performance.now() - slot.connectedAt < SLOW.refusedWithinMs) counts.refused += 1;
      else counts.cutUnanswered += 1;
    });
  }

  /** Closes every connection and waits (bounded) until they are all gone. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    const closing = this.slots.flatMap((slot) => {
      if (!slot.socket) return [];
      const socket = slot.socket;
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.destroy();
      return [closed];
    });
    await Promise.race([Promise.all(closing), sleep(5_000)]);
  }
}

/** A request head that never ends: one more byte of the X-Drip header every drip. */
const SLOW_HEAD = `GET /healthz HTTP/1.1\r\nHost: ${HOST}\r\nUser-Agent: abuse-bench\r\nX-Drip: `;
/** A complete upload head and the start of the file part: the body then arrives a byte at a time. */
const SLOW_BODY_START =
  `POST /api/v1/images HTTP/1.1\r\nHost: ${HOST}\r\nUser-Agent: abuse-bench\r\n` +
  `Content-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${SLOW.declaredBodyBytes}\r\n\r\n` +
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="slow.png"\r\nContent-Type: image/png\r\n\r\n`;

interface SlowRun {
  addresses: number;
  counts: SlowCounts;
  peakOpen: number;
  healthz: Probe[];
  image: Probe[];
  fdBaseline: number;
  fdPeak: FdCount;
  rssPeak: number;
  fdAfter: number;
}

async function runSlowloris(stack: Stack, addresses: string[], imagePath: string): Promise<SlowRun> {
  const fdBaseline = countFds(stack.apiPid, false).total;
  const clients = new SlowClients(stack.port, addresses, SLOW.connections);
  const fds = startSampler(250, () => countFds(stack.apiPid, true));
  const rss = startSampler(250, () => rssBytes(stack.apiPid));
  const open = startSampler(250, () => clients.open);
  clients.start();
  const healthz: Probe[] = [];
  const image: Probe[] = [];
  try {
    // One drip interval: every slot has tried once.
    await sleep(SLOW.dripEveryMs);
    const every = SLOW.holdMs / SLOW.probes;
    for (let i = 0; i < SLOW.probes; i++) {
      const round = sleep(every);
      healthz.push(await probe(stack.port, '/healthz', ADDRESSES.probe));
      image.push(await probe(stack.port, imagePath, ADDRESSES.probe));
      await round;
    }
  } finally {
    await clients.stop();
  }
  const fdSamples = fds.stop();
  const rssSamples = rss.stop();
  const openSamples = open.stop();
  // The API notices the closes as it gets to them; wait until its descriptors are back near where they were.
  const fdAfter = await settleFds(stack.apiPid, fdBaseline);
  return {
    addresses: addresses.length,
    counts: clients.counts,
    peakOpen: Math.max(...openSamples),
    healthz,
    image,
    fdBaseline,
    fdPeak: fdSamples.reduce((peak, sample) => (sample.total > peak.total ? sample : peak)),
    rssPeak: Math.max(...rssSamples),
    fdAfter,
  };
}

async function settleFds(pid: number, baseline: number, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let count = countFds(pid, false).total;
  while (count > baseline + 20 && Date.now() < deadline) {
    await sleep(200);
    count = countFds(pid, false).total;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------------------
// (b) Memory under 50 concurrent 20 MB uploads.

interface MemoryRun {
  fileBytes: number;
  statuses: Map<string, number>;
  wallMs: number;
  rssBefore: number;
  rssPeak: number;
  rssAfter: number;
  rssAfterTimeline: number[];
}

async function runUploads(stack: Stack, png: Buffer): Promise<MemoryRun> {
  const pid = stack.apiPid;
  resetPeakRss(pid);
  const rssBefore = rssBytes(pid);
  const sampler = startSampler(UPLOADS.sampleMs, () => rssBytes(pid));
  const head = png.subarray(0, AFTER_IHDR);
  const rest = png.subarray(AFTER_IHDR);
  const started = performance.now();
  const answers = await Promise.all(
    ADDRESSES.uploads.map((address, i) => {
      // A tEXt chunk makes each file distinct (no deduplication) without copying the 20 MB.
      const text = pngChunk('tEXt', Buffer.from(`Comment\0abuse bench upload ${i} ${Date.now()}`, 'latin1'));
      return upload(stack.port, address, [head, text, rest], `upload-${i}.png`, 'image/png', UPLOADS.timeoutMs).then(
        (answer) => String(answer.status),
        (error: NodeJS.ErrnoException) => error.code ?? error.message,
      );
    }),
  );
  const wallMs = performance.now() - started;
  const during = sampler.stop();
  const rssPeak = Math.max(peakRssBytes(pid), ...during);
  // Then 10 s with nothing to do.
  const after = startSampler(1_000, () => rssBytes(pid));
  await sleep(UPLOADS.settleMs);
  const rssAfterTimeline = after.stop();
  return {
    fileBytes: png.length,
    statuses: countValues(answers),
    wallMs,
    rssBefore,
    rssPeak,
    rssAfter: rssAfterTimeline[rssAfterTimeline.length - 1]!,
    rssAfterTimeline,
  };
}

function countValues(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

// ---------------------------------------------------------------------------------------------------------
// (c) Event-loop lag during the IDAT-chunk bomb.

interface LagRun {
  bombBytes: number;
  statuses: Map<string, number>;
  codes: Map<string, number>;
  wallMs: number;
  baseline: number[];
  during: number[];
  apiLagP99Ms: number;
  apiLagMaxMs: number;
}

/** /healthz round trips on one keep-alive connection, one every `everyMs` (or right after a slower one). */
function startLagProbe(port: number, agent: http.Agent): { mark(): number; stop(): Promise<number[]> } {
  const rtts: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const next = sleep(BOMB.probeEveryMs);
      const answer = await request(port, { path: '/healthz', localAddress: ADDRESSES.lagProbe, agent, timeoutMs: 10_000 });
      rtts.push(answer.ms);
      await next;
    }
  })();
  return {
    mark: () => rtts.length,
    async stop() {
      running = false;
      await loop;
      return rtts;
    },
  };
}

async function scrapeLag(port: number, agent: http.Agent): Promise<{ p99: number; max: number }> {
  const answer = await request(port, { path: '/metrics', localAddress: ADDRESSES.lagProbe, agent });
  const text = answer.body.toString();
  return {
    p99: (sampleValue(text, 'nodejs_eventloop_lag_p99_seconds') ?? Number.NaN) * 1000,
    max: (sampleValue(text, 'nodejs_eventloop_lag_max_seconds') ?? Number.NaN) * 1000,
  };
}

async function runBomb(stack: Stack, bomb: Buffer): Promise<LagRun> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  cleanups.push(async () => agent.destroy());
  const lag = startLagProbe(stack.port, agent);
  try {
    await sleep(BOMB.baselineMs);
    // Resets the API's lag histogram: the next scrape covers the bomb uploads alone.
    await scrapeLag(stack.port, agent);
    const fromIndex = lag.mark();
    const started = performance.now();
    const answers: Array<{ status: string; code: string }> = [];
    for (let round = 0; round < BOMB.rounds; round++) {
      answers.push(
        ...(await Promise.all(
          ADDRESSES.bombs.map((address, i) =>
            upload(stack.port, address, [bomb], `idat-bomb-${round}-${i}.png`, 'image/png', BOMB.timeoutMs).then(
              (answer) => ({ status: String(answer.status), code: errorCode(answer.body) }),
              (error: NodeJS.ErrnoException) => ({ status: error.code ?? error.message, code: '-' }),
            ),
          ),
        )),
      );
    }
    const wallMs = performance.now() - started;
    const toIndex = lag.mark();
    const apiLag = await scrapeLag(stack.port, agent);
    const rtts = await lag.stop();
    return {
      bombBytes: bomb.length,
      statuses: countValues(answers.map((answer) => answer.status)),
      codes: countValues(answers.map((answer) => answer.code)),
      wallMs,
      baseline: rtts.slice(0, fromIndex),
      during: rtts.slice(fromIndex, toIndex),
      apiLagP99Ms: apiLag.p99,
      apiLagMaxMs: apiLag.max,
    };
  } finally {
    await lag.stop().catch(() => undefined);
    agent.destroy();
  }
}

function errorCode(body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString()) as { error?: { code?: string }; code?: string };
    return parsed.error?.code ?? parsed.code ?? '-';
  } catch {
    return '-';
  }
}

// ---------------------------------------------------------------------------------------------------------
// Output.

const ms = (value: number) => (Number.isFinite(value) ? `${Math.round(value)} ms` : 'n/a');
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const count = (value: number) => value.toLocaleString('en-US');
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
const describeCounts = (counts: Map<string, number>) =>
  [...counts].sort((a, b) => b[1] - a[1]).map(([key, value]) => `${value}x ${key}`).join(', ');


function probeCell(probes: Probe[]): string {
  const ok = probes.filter((p) => p.ok);
  const failed = probes.filter((p) => !p.ok);
  const times = probes.map((p) => p.ms);
  return (
    `p50 ${ms(median(times))}, max ${ms(Math.max(...times))} (${ok.length}/${probes.length} answered 200` +
    (failed.length > 0 ? `; failed: ${describeCounts(countValues(failed.map((p) => p.outcome)))})` : ')')
  );
}

function probesPass(probes: Probe[]): boolean {
  return probes.every((p) => p.ok && p.ms < TARGETS.latencyMs);
}

function slowRows(run: SlowRun, tag: string): string[][] {
  const { counts } = run;
  const cut = [...counts.answered].map(([status, n]) => `${count(n)} answered ${status}${status === '408' ? ' (heads)' : ''}`);
  if (counts.cutUnanswered > 0) cut.push(`${count(counts.cutUnanswered)} closed unanswered (bodies)`);
  return [
    [
      tag,
      `${count(SLOW.connections)} slow connections from ${run.addresses} addresses`,
      `${count(counts.attempts)} tried (reopened at each drip), ${count(counts.refused)} refused at accept; ` +
        `client saw at most ${count(run.peakOpen)} open at once; cut after being held: ${cut.join(', ') || 'none'}` +
        (counts.connectFailed > 0 ? `; ${count(counts.connectFailed)} never connected` : ''),
      '',
      '',
    ],
    [tag, 'GET /healthz during the hold', probeCell(run.healthz), `< ${TARGETS.latencyMs} ms`, verdict(probesPass(run.healthz))],
    [tag, 'GET /i/<id>.jpg during the hold', probeCell(run.image), `< ${TARGETS.latencyMs} ms`, verdict(probesPass(run.image))],
    [
      tag,
      'API file descriptors, peak',
      `${count(run.fdPeak.total)} (${count(run.fdPeak.sockets)} sockets, ${count(run.fdPeak.files)} other; ` +
        `${run.fdBaseline} before, ${run.fdAfter} after); API RSS peak ${mb(run.rssPeak)}`,
      `< ${count(TARGETS.fds)}`,
      verdict(run.fdPeak.total < TARGETS.fds),
    ],
  ];
}

interface MemoryPoint {
  label: string;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
}

/** The API's RSS and its V8 heap and external (Buffer) memory, from its /metrics. */
async function memoryPoint(stack: Stack, label: string): Promise<MemoryPoint> {
  const text = (await get(stack.port, '/metrics', ADDRESSES.control)).body.toString();
  const value = (name: string) => sampleValue(text, name) ?? Number.NaN;
  return {
    label,
    rss: rssBytes(stack.apiPid),
    heapTotal: value('nodejs_heap_size_total_bytes'),
    heapUsed: value('nodejs_heap_size_used_bytes'),
    external: value('nodejs_external_memory_bytes'),
  };
}

interface Results {
  memoryPoints: MemoryPoint[];
  rssAtStart: number;
  imageBytes: number;
  slow?: SlowRun;
  distributed?: SlowRun;
  memory?: MemoryRun;
  lag?: LagRun;
}

function print(results: Results): void {
  const { slow, distributed, memory, lag } = results;
  const rows: string[][] = [];
  if (slow) rows.push(...slowRows(slow, '(a)'));
  if (distributed) rows.push(...slowRows(distributed, '(a2) extra'));
  if (memory) {
    rows.push(
      [
        '(b)',
        `50 concurrent uploads of ${mb(memory.fileBytes)} PNGs, 50 addresses`,
        `${describeCounts(memory.statuses)} in ${(memory.wallMs / 1000).toFixed(1)} s`,
        '',
        '',
      ],
      ['(b)', 'API RSS before', mb(memory.rssBefore), '', ''],
      ['(b)', 'API RSS peak during', mb(memory.rssPeak), `< ${mb(TARGETS.rssPeakBytes)}`, verdict(memory.rssPeak < TARGETS.rssPeakBytes)],
      [
        '(b)',
        `API RSS ${UPLOADS.settleMs / 1000} s after`,
        `${mb(memory.rssAfter)} (each second: ${memory.rssAfterTimeline.map((b) => (b / 1e6).toFixed(0)).join(' ')})`,
        `< ${mb(TARGETS.rssAfterBytes)}`,
        verdict(memory.rssAfter < TARGETS.rssAfterBytes),
      ],
    );
  }
  if (lag) {
    const probeP99 = percentile(lag.during, 99);
    rows.push(
      [
        '(c)',
        `${BOMB.rounds} x ${ADDRESSES.bombs.length} concurrent ${mb(lag.bombBytes)} PNGs of ${count(BOMB.emptyIdatChunks)} empty IDAT chunks`,
        `${describeCounts(lag.statuses)} (${describeCounts(lag.codes)}) in ${Math.round(lag.wallMs)} ms`,
        '',
        '',
      ],
      [
        '(c)',
        `/healthz round trip every ${BOMB.probeEveryMs} ms, p99 (lag probe)`,
        `${ms(probeP99)} (p50 ${ms(median(lag.during))}, max ${ms(Math.max(...lag.during))}, ${lag.during.length} samples; ` +
          `idle before: p99 ${ms(percentile(lag.baseline, 99))})`,
        `< ${TARGETS.lagP99Ms} ms`,
        verdict(probeP99 < TARGETS.lagP99Ms),
      ],
      [
        '(c)',
        'API nodejs_eventloop_lag_p99_seconds',
        `${ms(lag.apiLagP99Ms)} (max ${ms(lag.apiLagMaxMs)})`,
        `< ${TARGETS.lagP99Ms} ms`,
        verdict(lag.apiLagP99Ms < TARGETS.lagP99Ms),
      ],
    );
  }
  console.log(table(['', 'measurement', 'measured', 'target', 'result'], rows));
  console.log('\nAPI memory, in run order:\n');
  console.log(
    table(
      ['when', 'RSS', 'V8 heap total', 'V8 heap used', 'external (Buffers)'],
      results.memoryPoints.map((point) => [point.label, mb(point.rss), mb(point.heapTotal), mb(point.heapUsed), mb(point.external)]),
    ),
  );
  console.log(
    `\nRun order: (b), (c), (a), (a2).` +
      (distributed ? ' (a2) is not a target of the issue ("a handful of addresses"): it shows the process-wide connection cap at work.' : '') +
      `\nProbe image: ${mb(results.imageBytes)} JPEG served from storage; API RSS ${mb(results.rssAtStart)} once it first answered /healthz.`,
  );
}

/** At LOG_LEVEL=warn a quiet run logs little; anything logged is worth a look next to the numbers. */
async function reportLogs(dir: string): Promise<void> {
  for (const name of ['api', 'worker']) {
    const lines = (await readFile(path.join(dir, `${name}.log`), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    if (lines.length === 0) continue;
    const messages = countValues(
      lines.map((line) => {
        try {
          const entry = JSON.parse(line) as { level?: number; msg?: string };
          return `level ${entry.level}: ${entry.msg}`;
        } catch {
          return line.slice(0, 120);
        }
      }),
    );
    console.log(`\n${name} logged ${lines.length} line(s): ${describeCounts(messages).slice(0, 600)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const needed = SLOW.connections + 1_000;
  if (openFilesLimit('self') < needed) {
    throw new Error(
      `this process may open ${openFilesLimit('self')} files; the run needs ${needed}: ` +
        `run it as bash -c 'ulimit -n 65536 && npm run bench:abuse' (see the header)`,
    );
  }
  // Built before the API starts: sharp's encode must not share the machine with anything measured.
  const png = await incompressiblePng(UPLOADS.pngBytes);
  const bomb = await idatBombPng(BOMB.emptyIdatChunks);
  const stack = await startStack();
  dir = stack.dir;
  const rssAtStart = rssBytes(stack.apiPid);
  const image = await prepareProbeImage(stack);
  console.log(
    `abuse bench, ${new Date().toISOString()}: ${os.availableParallelism()} cores, load average ${os.loadavg()[0]!.toFixed(2)}; ` +
      `API pid ${stack.apiPid} on ${stack.url}, open files limit ${openFilesLimit(stack.apiPid)} (bench ${openFilesLimit('self')}); ` +
      `production EDGE_LIMITS, RATE_LIMIT_UPLOADS_PER_MINUTE=${stack.env.RATE_LIMIT_UPLOADS_PER_MINUTE}` +
      (Object.keys(OPTIONS.apiEnv).length > 0 ? `, API env ${JSON.stringify(OPTIONS.apiEnv)}` : '') +
      '\n',
  );
  // Memory first, on an API that has seen nothing but the probe image: what 10,000 connections leave behind
  // would otherwise be counted as the uploads' (see the memory points printed at the end).
  const results: Results = {
    rssAtStart,
    imageBytes: image.bytes,
    memoryPoints: [await memoryPoint(stack, 'at start (after the probe image)')],
  };
  const phases = OPTIONS.phases;
  if (phases.has('b')) {
    results.memory = await runUploads(stack, png);
    results.memoryPoints.push(await memoryPoint(stack, `(b) ${UPLOADS.settleMs / 1000} s after the uploads`));
  }
  if (phases.has('c')) {
    results.lag = await runBomb(stack, bomb);
    results.memoryPoints.push(await memoryPoint(stack, '(c) after the bomb uploads'));
  }
  if (phases.has('a')) {
    results.slow = await runSlowloris(stack, ADDRESSES.slow, image.path);
    results.memoryPoints.push(await memoryPoint(stack, '(a) after the slow connections closed'));
  }
  if (phases.has('a2')) {
    results.distributed = await runSlowloris(stack, ADDRESSES.distributed, image.path);
    results.memoryPoints.push(await memoryPoint(stack, '(a2) after the slow connections closed'));
  }
  print(results);
  console.log(`load average at end ${os.loadavg()[0]!.toFixed(2)}`);
}

let dir: string | undefined;
const watchdog = setTimeout(() => {
  console.error(`abuse bench: still running after ${RUN_DEADLINE_MS / 1000} s; stopping`);
  void cleanUp().finally(() => process.exit(1));
}, RUN_DEADLINE_MS);
process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
process.once('SIGTERM', () => void cleanUp().finally(() => process.exit(143)));
try {
  await main();
} catch (error) {
  console.error('abuse bench failed:', error);
  process.exitCode = 1;
} finally {
  if (dir) await reportLogs(dir);
  await cleanUp();
  clearTimeout(watchdog);
}
