/**
 * `npm start`: migrations, then the API and one worker as child processes. The worker runs at a lower CPU
 * priority so uploads stay fast while renditions saturate the cores.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '@renditions/config';
import { migrateDatabase } from '@renditions/db';

const ROOT = path.resolve(import.meta.dirname, '..');
const WORKER_NICENESS = 10;
// jemalloc keeps sharp's memory flat under load (see BASELINE.md); used when the system has it.
const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';

const config = loadConfig();
await migrateDatabase(config.databaseUrl);

function launch(name: string, entry: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  // Node runs the entry point itself (tsx as a loader), so the pid we renice and signal is the process doing the work.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry)], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); stopping`);
      stop(typeof code === 'number' && code !== 0 ? code : 1);
    }
  });
  return child;
}

let stopping = false;
const children = [
  launch('api', 'apps/api/src/main.ts'),
  launch('worker', 'apps/worker/src/main.ts', existsSync(JEMALLOC) ? { LD_PRELOAD: JEMALLOC } : {}),
];
const worker = children[1];
if (worker?.pid) {
  try {
    os.setPriority(worker.pid, WORKER_NICENESS);
  } catch {
    // Not permitted on some systems; the worker then simply shares the CPU evenly.
  }
}

function stop(exitCode: number) {
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  let remaining = children.length;
  for (const child of children) {
    child.once('exit', () => {
      remaining -= 1;
      if (remaining === 0) process.exit(exitCode);
    });
  }
}
process.on('SIGTERM', () => stop(0));
process.on('SIGINT', () => stop(0));
