import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '@renditions/api';
import { createLogger } from '@renditions/observability';
import { createTestContext, type TestContext } from '../support/context';

const SECRETS = {
  cookie: 'session=cookie-secret',
  authorization: `Basic ${Buffer.from('admin:password-secret').toString('base64')}`,
  'x-delete-token': 'token-secret',
  'user-agent': 'agent-secret',
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface RequestEntry {
  msg: string;
  req: { id: string; method: string; url: string };
  res: { statusCode: number };
  responseTime: number;
}

describe('the request log', () => {
  let ctx: TestContext;
  let api: RunningServer;
  let logged = '';
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
    const destination = new Writable({
      write(chunk, _encoding, done) {
        logged += String(chunk);
        done();
      },
    });
    // At debug, the most a production process logs: headers must not appear even there.
    const logger = createLogger({ level: 'debug', name: 'api', format: 'json', destination });
    api = await startServer({ ...ctx.services, logger }, { port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await api?.stop();
    await ctx?.stop();
  });

  async function requestLine(path: string, init: RequestInit = {}): Promise<RequestEntry> {
    await fetch(`${api.url}${path}`, { ...init, headers: SECRETS });
    let entry: RequestEntry | undefined;
    await expect
      .poll(() => {
        const entries = logged.trimEnd().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Partial<RequestEntry>);
        entry = entries.find((candidate) => candidate.req && candidate.res && candidate.req.method === (init.method ?? 'GET')) as RequestEntry;
        return entry;
      })
      .toBeDefined();
    return entry!;
  }

  it('has method, URL, status, duration and request id at info, and never a header', async () => {
    const entry = await requestLine('/api/v1/images/AAAAAAA?pretty=1');
    expect(entry).toMatchObject({ level: 30, msg: 'request completed' });
    expect(entry.req).toEqual({ id: expect.stringMatching(UUID), method: 'GET', url: '/api/v1/images/AAAAAAA?pretty=1' });
    expect(entry.res).toEqual({ statusCode: 404 });
    expect(entry.responseTime).toBeGreaterThanOrEqual(0);
    for (const secret of ['cookie-secret', SECRETS.authorization.slice('Basic '.length), 'token-secret', 'agent-secret']) {
      expect(logged).not.toContain(secret);
    }
    expect(logged).not.toMatch(/headers/i);
  });

  it('names a request by an id of its own', async () => {
    logged = '';
    const first = await requestLine('/api/v1/images/BBBBBBB');
    logged = '';
    const second = await requestLine('/api/v1/images/BBBBBBB');
    expect(second.req.id).not.toBe(first.req.id);
  });

  it('hides the delete token in the path of an Imgur delete', async () => {
    logged = '';
    const entry = await requestLine('/3/image/deletehash-secret', { method: 'DELETE' });
    expect(entry.req.url).toBe('/3/image/[deletehash]');
    expect(logged).not.toContain('deletehash-secret');
  });
});
