import http from 'node:http';
import https from 'node:https';
import { assertNotPrivateLiteral, guardedLookup } from './address-guard';
import { signWebhook } from './signing';

export interface DeliveryOptions {
  secret: string;
  eventId: string;
  timeoutMs: number;
  /** Tests and internal deployments reach loopback or private receivers only with this set. */
  allowPrivate: boolean;
}

export interface DeliveryResult {
  statusCode: number;
  latencyMs: number;
  /** The response body (first 64 KiB), for hooks that answer with a verdict. */
  body: string;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs a signed JSON body. No redirects are followed (a redirect is just a non-2xx answer), the whole exchange
 * has a deadline, and private addresses are refused at connect time unless allowed.
 * @throws {ForbiddenAddressError} the target is not a public address
 * @throws on network errors and timeouts
 */
export async function postSignedJson(url: string, body: string, options: DeliveryOptions): Promise<DeliveryResult> {
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new TypeError(`Expected an http(s) URL for a webhook but received ${target.protocol}`);
  }
  if (!options.allowPrivate) assertNotPrivateLiteral(target);
  const headers = {
    ...signWebhook(options.secret, options.eventId, body),
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'user-agent': 'renditions-webhooks/1',
  };
  const started = performance.now();
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise<DeliveryResult>((resolve, reject) => {
    const request = transport.request(
      target,
      {
        method: 'POST',
        headers,
        signal: AbortSignal.timeout(options.timeoutMs),
        ...(options.allowPrivate ? {} : { lookup: guardedLookup as never }),
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
        });
        response.on('end', () =>
          resolve({
            statusCode: response.statusCode ?? 0,
            latencyMs: Math.round(performance.now() - started),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', (error) => {
      reject(error.name === 'AbortError' ? new Error(`no answer within ${options.timeoutMs} ms`, { cause: error }) : error);
    });
    request.end(body);
  });
}
