import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileTooLargeError, InvalidRequestError } from '@renditions/errors';
import { fetchRemoteImage, type RemoteImageOptions } from '../src/remote-image';

const options: RemoteImageOptions = { maxBytes: 1000, timeoutMs: 2000, allowPrivate: true };

async function fetchAll(url: string, overrides: Partial<RemoteImageOptions> = {}): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of fetchRemoteImage(url, { ...options, ...overrides })) parts.push(chunk);
  return Buffer.concat(parts);
}

describe('fetchRemoteImage', () => {
  let server: Server;
  let base: string;
  const requested: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      requested.push(req.url ?? '');
      if (req.url === '/image') res.end(Buffer.alloc(10, 1));
      else if (req.url === '/stall') res.writeHead(200).write('a'); // and never ends
      else if (req.url === '/declared-huge') res.writeHead(200, { 'content-length': '5000' }).end();
      else if (req.url === '/to-image') res.writeHead(307, { location: '/image' }).end();
      else if (req.url === '/to-file') res.writeHead(302, { location: 'file:///etc/passwd' }).end();
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('streams the body and follows redirects', async () => {
    expect(await fetchAll(`${base}/to-image`)).toEqual(Buffer.alloc(10, 1));
  });

  it('gives up at the deadline, body included', async () => {
    const started = Date.now();
    await expect(fetchAll(`${base}/stall`, { timeoutMs: 300 })).rejects.toThrow(/within 0.3 s/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a declared size over the limit before reading, a 404, and a redirect out of http(s)', async () => {
    await expect(fetchAll(`${base}/declared-huge`)).rejects.toBeInstanceOf(FileTooLargeError);
    await expect(fetchAll(`${base}/nothing`)).rejects.toThrow(/answered 404/);
    await expect(fetchAll(`${base}/to-file`)).rejects.toThrow(/file: URL/);
  });

  it('never connects to loopback unless private addresses are allowed', async () => {
    const before = requested.length;
    const refused = fetchAll(`${base}/image`, { allowPrivate: false });
    await expect(refused).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(refused).rejects.toThrow(/public address/);
    expect(requested.length).toBe(before);
  });
});
