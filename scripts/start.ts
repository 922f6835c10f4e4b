/**
 * `npm start`: migrations, then the API and one worker as child processes. A child that dies is started again
 * (after a pause that grows while it keeps dying), so one crash does not take the whole host down. The worker
 * runs at a lower CPU priority so uploads stay fast while renditions saturate the cores.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '@renditions/config';
import { migrateDatabase } from '@renditions/db';
import { decideLogFormat } from '@renditions/observability';
import { API_MALLOC_ENV, WORKER_MALLOC_ENV, WORKER_NICENESS } from './process-env';

const ROOT = path.resolve(import.meta.dirname, '..');
const FIRST_RESTART_DELAY_MS = 1_000;
const MAX_RESTART_DELAY_MS = 30_000;
// A child that ran this long was healthy: its next crash is a new incident, restarted without delay build-up.
const HEALTHY_AFTER_MS = 60_000;

interface ChildSpec {
  name: string;
  entry: string;
  env?: NodeJS.ProcessEnv;
  niceness?: number;
}

// Decided once, from this process's own stdout, and handed to both children: they agree on one format whatever
// their stdout turns out to be (inherited here, but a pipe as soon as anything collects or prefixes their output).
const LOG_FORMAT = decideLogFormat(process.env.LOG_FORMAT, Boolean(process.stdout.isTTY));
const config = loadConfig();
await migrateDatabase(config.databaseUrl);

const running = new Set<ChildProcess>();
const pendingRestarts = new Set<NodeJS.Timeout>();
let stopping = false;

function launch(spec: ChildSpec): ChildProcess {
  // Node runs the entry point itself (tsx as a loader), so the pid we renice and signal is the process doing the work.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, spec.entry)], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, LOG_FORMAT, ...spec.env },
  });
  if (spec.niceness !== undefined && child.pid) {
    try {
      os.setPriority(child.pid, spec.niceness);
    } catch {
      // Not permitted on some systems; the worker then simply shares the CPU evenly.
    }
  }
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

function keepRunning(spec: ChildSpec): void {
  let delayMs = FIRST_RESTART_DELAY_MS;
  const start = () => {
    const startedAt = Date.now();
    launch(spec).once('exit', (code, signal) => {
      if (stopping) return;
      if (Date.now() - startedAt >= HEALTHY_AFTER_MS) delayMs = FIRST_RESTART_DELAY_MS;
      console.error(`${spec.name} exited (${signal ?? code}); restarting it in ${delayMs / 1000} s`);
      const timer = setTimeout(() => {
        pendingRestarts.delete(timer);
        start();
      }, delayMs);
      pendingRestarts.add(timer);
      delayMs = Math.min(delayMs * 2, MAX_RESTART_DELAY_MS);
    });
  };
  start();
}

function stop(): void {
  if (stopping) return;
  stopping = true;
  for (const timer of pendingRestarts) clearTimeout(timer);
  if (running.size === 0) process.exit(0);
  for (const child of running) {
    child.once('exit', () => {
      if (running.size === 0) process.exit(0);
    });
    child.kill('SIGTERM');
  }
}

keepRunning({ name: 'api', entry: 'apps/api/src/main.ts', env: API_MALLOC_ENV });
keepRunning({
  name: 'worker',
  entry: 'apps/worker/src/main.ts',
  env: WORKER_MALLOC_ENV,
  niceness: WORKER_NICENESS,
});
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
