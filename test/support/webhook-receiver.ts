import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImageResource } from '@renditions/pipeline';

export interface WebhookBody {
  type: string;
  timestamp: string;
  data: ImageResource;
}

/** One request as the receiver got it: the raw body is what a signature is verified against. */
export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  body: WebhookBody;
}

/** Answers one request; may leave it unanswered to play a receiver that hangs. */
export type Responder = (request: ReceivedRequest, res: ServerResponse) => void;

export interface WebhookReceiver {
  /** http://127.0.0.1:<port>, a loopback address: contexts need WEBHOOK_ALLOW_PRIVATE=true to reach it. */
  url: string;
  requests: ReceivedRequest[];
  /** Polls until `done` holds for the requests received so far. */
  waitFor(done: (requests: ReceivedRequest[]) => boolean, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

const answerOk: Responder = (_request, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');

/** A real HTTP receiver on 127.0.0.1, port 0, recording every request it gets. */
export async function startWebhookReceiver(respond: Responder = answerOk): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const request = { path: req.url ?? '/', headers: req.headers, rawBody, body: JSON.parse(rawBody) as WebhookBody };
      requests.push(request);
      respond(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async waitFor(done, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      while (!done(requests)) {
        if (Date.now() > deadline) {
          throw new Error(`receiver: condition not met; got ${requests.map((r) => r.body.type).join(', ') || 'nothing'}`);
        }
        await sleep(100);
      }
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Requests left hanging on purpose would otherwise hold the close.
        server.closeAllConnections();
      }),
  };
}

/** The receiver-side view of delivery: retries of one event share its `webhook-id`, so receivers dedupe on it. */
export function uniqueEvents(requests: ReceivedRequest[]): ReceivedRequest[] {
  const seen = new Map<string, ReceivedRequest>();
  for (const request of requests) seen.set(String(request.headers['webhook-id']), request);
  return [...seen.values()];
}
