import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForbiddenAddressError } from '../src/address-guard';
import { postSignedJson } from '../src/deliver';
import { generateWebhookSecret, newEventId } from '../src/signing';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const secret = generateWebhookSecret();
const received: Received[] = [];
let answer: (res: ServerResponse) => void;
let port: number;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    received.push({ path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    answer(res);
  });
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const options = (overrides: { allowPrivate?: boolean; timeoutMs?: number } = {}) => ({
  secret,
  eventId: newEventId(),
  timeoutMs: overrides.timeoutMs ?? 5000,
  allowPrivate: overrides.allowPrivate ?? true,
});

describe('postSignedJson', () => {
  it('sends a body any Standard Webhooks receiver verifies', async () => {
    answer = (res) => res.writeHead(200).end('{"ok":true}');
    received.length = 0;
    const body = JSON.stringify({ type: 'image.ready', timestamp: new Date().toISOString(), data: { id: 'abc' } });
    const sent = options();
    const result = await postSignedJson(`http://127.0.0.1:${port}/hook`, body, sent);
    expect(result).toMatchObject({ statusCode: 200, body: '{"ok":true}' });
    expect(result.latencyMs).toEqual(expect.any(Number));
    const [request] = received;
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['webhook-id']).toBe(sent.eventId);
    expect(new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>)).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateWebhookSecret()).verify(request!.body, request!.headers as Record<string, string>)).toThrow();
  });

  it('refuses loopback receivers when private addresses are not allowed, before sending anything', async () => {
    answer = (res) => res.writeHead(200).end();
    received.length = 0;
    const refused = options({ allowPrivate: false });
    await expect(postSignedJson(`http://127.0.0.1:${port}/`, '{}', refused)).rejects.toBeInstanceOf(ForbiddenAddressError);
    await expect(postSignedJson(`http://[::ffff:127.0.0.1]:${port}/`, '{}', refused)).rejects.toBeInstanceOf(
      ForbiddenAddressError,
    );
    await expect(postSignedJson(`http://localhost:${port}/`, '{}', refused)).rejects.toBeInstanceOf(ForbiddenAddressError);
    // A name that resolves to loopback is caught at connect time, on the address the socket would use.
    const atConnect = await postSignedJson(`http://${os.hostname()}:${port}/`, '{}', refused).catch((error: unknown) => error);
    expect(atConnect).toBeInstanceOf(ForbiddenAddressError);
    expect((atConnect as Error).message).toMatch(/resolves to a non-public address/);
    expect(received).toHaveLength(0);
  });

  it('does not follow redirects: a 302 is just a non-2xx answer', async () => {
    answer = (res) => res.writeHead(302, { location: `http://127.0.0.1:${port}/redirected` }).end();
    received.length = 0;
    const result = await postSignedJson(`http://127.0.0.1:${port}/hook`, '{}', options());
    expect(result.statusCode).toBe(302);
    expect(received.map((request) => request.path)).toEqual(['/hook']);
  });

  it('gives up on a receiver that does not answer within the timeout', async () => {
    answer = () => undefined;
    await expect(postSignedJson(`http://127.0.0.1:${port}/slow`, '{}', options({ timeoutMs: 300 }))).rejects.toThrow(
      'no answer within 300 ms',
    );
  });
});
