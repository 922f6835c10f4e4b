import { execFile, spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptBackends, type StartScriptBackends } from '../support/start-script';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Children of `parent` whose command line names `entry` (pgrep answers 1 when there is none). */
async function childPids(parent: number, entry: string): Promise<number[]> {
  const { stdout } = await promisify(execFile)('pgrep', ['-P', String(parent), '-f', entry]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean).map(Number);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function healthy(url: string): Promise<boolean> {
  const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
  return response?.ok ?? false;
}

describe('npm start', () => {
  let start: ChildProcess;
  let exited: Promise<number | null>;
  let backends: StartScriptBackends;
  let output = '';

  beforeAll(async () => {
    backends = await startScriptBackends('start-restarts', { LOG_LEVEL: 'silent' });
    // Its own process group, so afterAll can kill start and every child it launched in one call, whatever happened.
    start = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/start.ts')], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: backends.env,
    });
    start.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    start.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise((resolve) => start.once('exit', (code) => resolve(code)));
  });

  afterAll(async () => {
    try {
      if (start?.pid) process.kill(-start.pid, 'SIGKILL');
    } catch {
      // The group is already gone: start stopped everything itself.
    }
    await backends?.remove();
  });

  it('restarts a worker that died while the API keeps answering, and stops everything on SIGTERM', async () => {
    const startPid = start.pid!;
    await expect.poll(() => healthy(backends.url), { timeout: 30_000, interval: 250 }).toBe(true);
    const [apiPid] = await childPids(startPid, 'apps/api/');
    const [workerPid] = await childPids(startPid, 'apps/worker/');
    expect(apiPid).toBeDefined();
    expect(workerPid).toBeDefined();

    // Watch the API for the whole time the worker is down and coming back.
    let watching = true;
    let unhealthyAnswers = 0;
    const watcher = (async () => {
      while (watching) {
        if (!(await healthy(backends.url))) unhealthyAnswers += 1;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    process.kill(workerPid!, 'SIGKILL');
    await expect
      .poll(async () => (await childPids(startPid, 'apps/worker/')).filter((pid) => pid !== workerPid), { timeout: 10_000 })
      .toHaveLength(1);
    const [newWorkerPid] = (await childPids(startPid, 'apps/worker/')).filter((pid) => pid !== workerPid);
    expect(output).toMatch(/worker exited \(SIGKILL\); restarting/);
    expect(os.getPriority(newWorkerPid!)).toBe(10);
    // Long enough for the new worker to get past its start, not only to be spawned.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    watching = false;
    await watcher;

    expect(isAlive(newWorkerPid!)).toBe(true);
    expect(output.match(/exited/g)).toHaveLength(1);
    expect(await childPids(startPid, 'apps/api/')).toEqual([apiPid]);
    expect(unhealthyAnswers).toBe(0);

    process.kill(startPid, 'SIGTERM');
    const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 15_000))]);
    expect(code).toBe(0);
    expect(isAlive(apiPid!)).toBe(false);
    expect(isAlive(newWorkerPid!)).toBe(false);
  }, 55_000);
});
