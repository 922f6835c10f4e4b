import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload, waitForImage, type UploadResponse } from '../support/http';
import { nginxInstalled } from '../support/nginx-cdn';
import { freePort } from '../support/ports';
import { testChildEnv } from '../support/test-run';

const ROOT = path.resolve(import.meta.dirname, '../..');
// The loader `npm run cdn` runs the script with (tsx), named by path: the script runs in a directory of its own.
const TSX = pathToFileURL(createRequire(path.join(ROOT, 'package.json')).resolve('tsx')).href;

/** Resolves with everything printed once `text` appears; rejects if the process exits or the time runs out first. */
function printed(child: ChildProcess, text: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`"${text}" not printed within ${timeoutMs} ms: ${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(text)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before printing "${text}": ${output}`));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!nginxInstalled)('npm run cdn', () => {
  let ctx: TestContext;
  let cwd: string;
  let script: ChildProcess | undefined;
  let nginxPid: number | undefined;
  let image: UploadResponse;

  beforeAll(async () => {
    ctx = await createTestContext();
    cwd = await mkdtemp(path.join(os.tmpdir(), 'npm-run-cdn-'));
    // Started as root, nginx serves from unprivileged workers, which must reach the cache under this directory.
    await chmod(cwd, 0o755);
    const response = await upload(ctx.url, readCorpus('photos/DSCN0040.jpg'));
    image = (await response.json()) as UploadResponse;
    await waitForImage(ctx.url, image.id, (resource) => resource.status === 'ready', 120_000);
  });
  afterAll(async () => {
    if (script && script.exitCode === null && script.signalCode === null) {
      const exited = new Promise((resolve) => script!.once('exit', resolve));
      script.kill('SIGTERM');
      await exited;
    }
    // nginx's master rewrites its environment (its process title), so the global teardown could not find it.
    if (nginxPid && alive(nginxPid)) process.kill(nginxPid, 'SIGTERM');
    if (cwd) await rm(cwd, { recursive: true, force: true });
    await ctx?.stop();
  });

  it('serves cdn.conf on CDN_PORT in front of the API on PORT, says what to set, and stops nginx on SIGTERM', async () => {
    const apiPort = new URL(ctx.url).port;
    const cdnPort = await freePort();
    script = spawn(process.execPath, ['--import', TSX, path.join(ROOT, 'scripts/cdn.ts')], {
      cwd,
      env: { ...process.env, ...testChildEnv(), PORT: apiPort, CDN_PORT: String(cdnPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = await printed(script, `PUBLIC_BASE_URL=http://localhost:${cdnPort} CDN_PURGE_URL=http://127.0.0.1:${cdnPort}\n`);
    expect(output).toContain(`CDN on http://localhost:${cdnPort}/ in front of the API at http://127.0.0.1:${apiPort}`);
    nginxPid = Number(await readFile(path.join(cwd, 'data/cdn/nginx.pid'), 'utf8'));

    const rendition = `http://127.0.0.1:${cdnPort}/i/${image.id}/m.webp`;
    const first = await fetch(rendition);
    expect([first.status, first.headers.get('content-type'), first.headers.get('x-cache-status')]).toEqual([200, 'image/webp', 'MISS']);
    expect((await fetch(rendition)).headers.get('x-cache-status')).toBe('HIT');
    // CDN_PURGE_URL as printed: the copy is dropped (200), then there is none (404).
    const purge = `http://127.0.0.1:${cdnPort}/purge/i/${image.id}/m.webp`;
    expect((await fetch(purge)).status).toBe(200);
    expect((await fetch(purge)).status).toBe(404);
    expect((await fetch(rendition)).headers.get('x-cache-status')).toBe('MISS');

    const exited = new Promise<number | null>((resolve) => script!.once('exit', resolve));
    script.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(alive(nginxPid)).toBe(false);
  });
});
