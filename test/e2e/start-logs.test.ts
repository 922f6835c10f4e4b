import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropQueueKeys } from '../support/context';
import { freePort } from '../support/ports';
import { testChildEnv, throwawayDatabaseName, throwawayQueuePrefix } from '../support/test-run';

const ROOT = path.resolve(import.meta.dirname, '../..');
const REDIS_URL = 'redis://127.0.0.1:6379';
const ADMIN_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const databaseName = throwawayDatabaseName();
const queuePrefix = throwawayQueuePrefix();
const ANSI_COLOUR = /\x1b\[[0-9;]*m/g;
const PRETTY_LINE = /^\[\d\d:\d\d:\d\d\.\d{3}\] (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) \((api|worker)\): /;

describe('npm start on a terminal', () => {
  let script: ChildProcess;
  let startPid: number | undefined;
  let url: string;
  let storageDir: string;
  let output = '';

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    storageDir = await mkdtemp(path.join(os.tmpdir(), 'start-logs-'));
    // util-linux `script` runs start under a pseudo-terminal, as a person's shell would; `exec` makes start the
    // session leader there, so its process group is start and both children.
    const command = `exec ${JSON.stringify(process.execPath)} --import tsx scripts/start.ts`;
    script = spawn('script', ['--quiet', '--flush', '--return', '--command', command, '/dev/null'], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        LOG_FORMAT: '',
        DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${databaseName}`,
        REDIS_URL,
        QUEUE_PREFIX: queuePrefix,
        PORT: String(port),
        STORAGE_DIR: storageDir,
        WORKER_METRICS_PORT: '0',
        LOG_LEVEL: 'info',
        ...testChildEnv(),
      },
    });
    script.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    script.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  });

  afterAll(async () => {
    try {
      if (startPid) process.kill(-startPid, 'SIGKILL');
    } catch {
      // Already gone: start stopped everything itself.
    }
    script?.kill('SIGKILL');
    const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => undefined });
    try {
      await admin.unsafe(`drop database if exists "${databaseName}" with (force)`);
    } finally {
      await admin.end();
    }
    await dropQueueKeys(REDIS_URL, queuePrefix);
    if (storageDir) await rm(storageDir, { recursive: true, force: true });
  });

  const lines = () => output.replace(ANSI_COLOUR, '').split(/\r?\n/).filter(Boolean);

  it('prints pino-pretty lines from the API and the worker, and a request as one line without its headers', async () => {
    await expect.poll(() => lines().some((line) => line.includes('worker started')), { timeout: 45_000, interval: 250 }).toBe(true);
    await expect.poll(() => lines().some((line) => line.includes('upload page:')), { timeout: 30_000, interval: 250 }).toBe(true);
    const { stdout } = await promisify(execFile)('pgrep', ['-P', String(script.pid), '-f', 'scripts/start.ts']);
    startPid = Number(stdout.trim());

    await fetch(`${url}/api/v1/images/AAAAAAA`, { headers: { cookie: 'session=cookie-secret', 'x-delete-token': 'token-secret' } });
    const requestLine = /^\[[\d:.]+\] INFO \(api\): request completed: GET \/api\/v1\/images\/AAAAAAA 404 in \d+ ms \(req [0-9a-f-]{36}\)$/;
    await expect.poll(() => lines().some((line) => requestLine.test(line)), { timeout: 10_000 }).toBe(true);

    expect(lines().filter((line) => !PRETTY_LINE.test(line))).toEqual([]);
    expect(lines().some((line) => line.includes('(worker): worker started'))).toBe(true);
    expect(output).not.toMatch(/cookie-secret|token-secret/);

    process.kill(startPid, 'SIGTERM');
    const code = await new Promise((resolve) => script.once('exit', resolve));
    expect(code).toBe(0);
  }, 90_000);
});
