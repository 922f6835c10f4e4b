import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CdnPurgeError, createCdnPurger, HttpCdnPurger, noopCdnPurger, purgeRequestUrl, purgeSucceeded } from '../src/cdn-purge';

describe('purgeRequestUrl', () => {
  it('maps a public URL to the purge location of the same path', () => {
    expect(purgeRequestUrl('http://cdn', 'https://img.example/i/abc.jpg')).toBe('http://cdn/purge/i/abc.jpg');
    expect(purgeRequestUrl('http://cdn:8080/', 'http://localhost:3000/i/abc/m.webp')).toBe('http://cdn:8080/purge/i/abc/m.webp');
  });
});

describe('purgeSucceeded', () => {
  it('accepts purged and not cached; nothing else', () => {
    for (const status of [200, 204, 404]) expect(purgeSucceeded(status), String(status)).toBe(true);
    for (const status of [301, 401, 403, 451, 500, 502]) expect(purgeSucceeded(status), String(status)).toBe(false);
  });
});

describe('createCdnPurger', () => {
  it('is a no-op without CDN_PURGE_URL', () => {
    expect(createCdnPurger(null, pino({ level: 'silent' }))).toBe(noopCdnPurger);
  });
});

describe('HttpCdnPurger against a real HTTP server', () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  async function listen(handler: http.RequestListener): Promise<string> {
    server = http.createServer(handler);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  function capturingLogger() {
    const lines: Array<{ msg: string; url: string; status?: number }> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    return { logger, lines };
  }

  it('sends one GET per URL to the purge location', async () => {
    const received: string[] = [];
    const base = await listen((req, res) => {
      received.push(`${req.method} ${req.url}`);
      res.writeHead(200).end();
    });
    const { logger, lines } = capturingLogger();
    await new HttpCdnPurger(base, logger).purge([{ url: 'http://img.example/i/abc.jpg' }, { url: 'http://img.example/i/abc/s.avif' }]);
    expect(received.sort()).toEqual(['GET /purge/i/abc.jpg', 'GET /purge/i/abc/s.avif']);
    expect(lines).toEqual([]);
  });

  it("reaches each format class's copy of a negotiated URL with that class's Accept header", async () => {
    const received: string[] = [];
    const base = await listen((req, res) => {
      received.push(`${req.url} ${req.headers.accept}`);
      res.writeHead(200).end();
    });
    const url = 'http://img.example/i/abc/m';
    await new HttpCdnPurger(base, pino({ level: 'silent' })).purge(['image/avif', 'image/webp', '*/*'].map((accept) => ({ url, accept })));
    expect(received.sort()).toEqual(['/purge/i/abc/m */*', '/purge/i/abc/m image/avif', '/purge/i/abc/m image/webp']);
  });

  it('tries every URL, then throws naming the refused and unanswered ones so the cleanup retries', async () => {
    const base = await listen((req, res) => {
      if (req.url === '/purge/i/refused.jpg') res.writeHead(403).end();
      // Anything else hangs.
    });
    const { logger, lines } = capturingLogger();
    const purging = new HttpCdnPurger(base, logger, 300).purge([{ url: 'http://img.example/i/refused.jpg' }, { url: 'http://img.example/i/hangs.jpg' }]);
    const error = await purging.then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(CdnPurgeError);
    expect((error as CdnPurgeError).failedUrls.sort()).toEqual(['http://img.example/i/hangs.jpg', 'http://img.example/i/refused.jpg']);
    expect(lines.map(({ url, status }) => ({ url, status })).sort((a, b) => a.url.localeCompare(b.url))).toEqual([
      { url: 'http://img.example/i/hangs.jpg', status: undefined },
      { url: 'http://img.example/i/refused.jpg', status: 403 },
    ]);
  });
});
