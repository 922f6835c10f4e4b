import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@renditions/config';
import { createLogger } from '@renditions/observability';
import { createServices, type ServicesHandle } from '@renditions/pipeline';
import { startServer, type RunningServer } from '@renditions/api';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dropQueueKeys } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload } from '../support/http';
import { throwawayQueuePrefix } from '../support/test-run';

describe('PostgreSQL unreachable', () => {
  let services: ServicesHandle;
  let api: RunningServer;
  let storageDir: string;
  const queuePrefix = throwawayQueuePrefix();
  beforeAll(async () => {
    storageDir = await mkdtemp(path.join(os.tmpdir(), 'objects-'));
    // Nothing listens on port 1: every connection attempt is refused at once.
    const config = loadConfig({
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/renditions',
      STORAGE_DIR: storageDir,
      QUEUE_PREFIX: queuePrefix,
      LOG_LEVEL: 'silent',
    });
    services = createServices(config, createLogger({ level: 'silent', name: 'test' }));
    api = await startServer(services, { port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await api?.stop();
    await services?.close();
    await dropQueueKeys('redis://127.0.0.1:6379', queuePrefix);
    await rm(storageDir, { recursive: true, force: true });
  });

  it('answers uploads 503 with Retry-After, stores nothing, and does not hang', async () => {
    const response = await upload(api.url, readCorpus('photos/Canon_40D.jpg'));
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await response.json()).toMatchObject({ error: { code: 'unavailable' } });
    // No object, and no spool file either (the spool folder itself may stay).
    const files = (await readdir(storageDir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
    expect(files).toEqual([]);
  });

  it('still refuses a broken file as such (422), whatever the database does meanwhile', async () => {
    const response = await upload(api.url, readCorpus('bad/truncated.jpg'));
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ error: { code: 'invalid_image' } });
  });

  it('answers reads 503 and readiness 503 naming the database', async () => {
    const read = await fetch(`${api.url}/api/v1/images/AAAAAAA`);
    expect(read.status).toBe(503);
    expect(read.headers.get('retry-after')).toBeTruthy();
    const readiness = await fetch(`${api.url}/readyz`);
    expect(readiness.status).toBe(503);
    const body = (await readiness.json()) as { checks: Record<string, string> };
    expect(body.checks.database).not.toBe('ok');
    expect(body.checks.storage).toBe('ok');
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
  });
});
