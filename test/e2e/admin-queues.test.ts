import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '@renditions/pipeline';
import { ADMIN, createTestContext, type TestContext } from '../support/context';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const AS_ADMIN = { Authorization: basic(ADMIN.user, ADMIN.password) };

describe('Bull Board at /admin/queues', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
  });
  afterAll(async () => ctx?.stop());

  it('asks for credentials, so a browser prompts, and refuses wrong ones', async () => {
    for (const headers of [{}, { Authorization: basic(ADMIN.user, 'wrong') }] as Record<string, string>[]) {
      for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
        const response = await fetch(`${ctx.url}${path}`, { headers });
        expect(response.status, path).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
        expect(await response.json()).toMatchObject({ error: { code: 'unauthorized' } });
      }
    }
  });

  it('serves the board and its assets under the mount path to the admin', async () => {
    const page = await fetch(`${ctx.url}/admin/queues`, { headers: AS_ADMIN });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    // The UI resolves its assets and API calls against this base, which must be where the board is mounted.
    expect(html).toContain('<base href="/admin/queues/" />');
    const script = /<script[^>]+src="([^"]+)"/.exec(html)?.[1];
    const asset = await fetch(new URL(script!, `${ctx.url}/admin/queues/`), { headers: AS_ADMIN });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
  });

  it('lists every queue of the product, under its prefix', async () => {
    const response = await fetch(`${ctx.url}/admin/queues/api/queues`, { headers: AS_ADMIN });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { queues: { name: string }[] };
    expect(body.queues.map((queue) => queue.name).sort()).toEqual([...QUEUE_NAMES].sort());
  });

  it('retries a failed job', async () => {
    const queue = ctx.services.queues.queues.get('webhook')!;
    // A loopback receiver is refused (private addresses are not allowed here), so the one attempt fails for good.
    const job = await queue.add(
      'image.ready',
      { imageId: 'missing', url: 'http://127.0.0.1:9/hook', eventId: 'msg_admin_retry', eventType: 'image.ready', body: '{}' },
      { jobId: 'admin-retry', attempts: 1 },
    );
    const worker = ctx.startWorker();
    await expect.poll(() => queue.getJobState(job.id!), { timeout: 20_000 }).toBe('failed');
    await worker.stop();

    const retryUrl = `${ctx.url}/admin/queues/api/queues/webhook/${job.id}/retry`;
    expect((await fetch(retryUrl, { method: 'PUT' })).status).toBe(401);
    expect(await queue.getJobState(job.id!)).toBe('failed');
    expect((await fetch(retryUrl, { method: 'PUT', headers: AS_ADMIN })).status).toBe(204);
    expect(await queue.getJobState(job.id!)).toBe('waiting');
  });
});

describe('Bull Board without an admin password', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false, env: { ADMIN_PASSWORD: '' } });
  });
  afterAll(async () => ctx?.stop());

  it('is never open, whatever credentials arrive', async () => {
    const attempts: Record<string, string>[] = [{}, AS_ADMIN, { Authorization: basic(ADMIN.user, '') }, { Authorization: basic('', '') }];
    for (const headers of attempts) {
      const response = await fetch(`${ctx.url}/admin/queues/api/queues`, { headers });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    }
  });
});
