import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload, waitForImage, type UploadResponse } from '../support/http';
import { testChildEnv } from '../support/test-run';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('a worker killed mid-job', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
  });
  afterAll(async () => ctx?.stop());

  it('has its job picked up by another worker, and the image still reaches ready', async () => {
    // Node itself runs the worker (tsx as a loader), so SIGKILL hits the worker and not a wrapper process.
    const doomed = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'apps/worker/src/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...ctx.env, PUBLIC_BASE_URL: ctx.url, PORT: '3000', WORKER_METRICS_PORT: '0', ...testChildEnv() },
      stdio: 'ignore',
    });
    const response = await upload(ctx.url, readCorpus('photos/42_IndexError.jpg'));
    const created = (await response.json()) as UploadResponse;
    // Wait until the separate worker is in the middle of rendering, then kill it without warning.
    await waitForImage(ctx.url, created.id, (image) => image.renditions.some((r) => r.status === 'processing'), 60_000);
    doomed.kill('SIGKILL');
    await new Promise((resolve) => doomed.once('exit', resolve));
    const unfinished = await waitForImage(ctx.url, created.id, () => true);
    expect(unfinished.renditions.some((r) => r.status !== 'ready')).toBe(true);

    ctx.startWorker();
    const ready = await waitForImage(ctx.url, created.id, undefined, 90_000);
    expect(ready.status).toBe('ready');
    expect(ready.renditions.every((r) => r.status === 'ready')).toBe(true);
  });
});
