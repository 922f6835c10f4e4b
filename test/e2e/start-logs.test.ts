import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptBackends, type StartScriptBackends } from '../support/start-script';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ANSI_COLOUR = /\x1b\[[0-9;]*m/g;
const PRETTY_LINE = /^\[\d\d:\d\d:\d\d\.\d{3}\] (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) \((api|worker)\): /;

describe('npm start on a terminal', () => {
  let script: ChildProcess;
  let startPid: number | undefined;
  let backends: StartScriptBackends;
  let output = '';

  beforeAll(async () => {
    backends = await startScriptBackends('start-logs', { LOG_FORMAT: '', LOG_LEVEL: 'info' });
    // util-linux `script` runs start under a pseudo-terminal, as a person's shell would; `exec` makes start the
    // session leader there, so its process group is start and both children.
    const command = `exec ${JSON.stringify(process.execPath)} --import tsx scripts/start.ts`;
    script = spawn('script', ['--quiet', '--flush', '--return', '--command', command, '/dev/null'], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: backends.env,
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
    await backends?.remove();
  });

  const lines = () => output.replace(ANSI_COLOUR, '').split(/\r?\n/).filter(Boolean);

  it('prints pino-pretty lines from the API and the worker, and a request as one line without its headers', async () => {
    await expect.poll(() => lines().some((line) => line.includes('worker started')), { timeout: 45_000, interval: 250 }).toBe(true);
    await expect.poll(() => lines().some((line) => line.includes('upload page:')), { timeout: 30_000, interval: 250 }).toBe(true);
    const { stdout } = await promisify(execFile)('pgrep', ['-P', String(script.pid), '-f', 'scripts/start.ts']);
    startPid = Number(stdout.trim());

    await fetch(`${backends.url}/api/v1/images/AAAAAAA`, { headers: { cookie: 'session=cookie-secret', 'x-delete-token': 'token-secret' } });
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
