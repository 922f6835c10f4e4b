import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { FileTooLargeError, InvalidRequestError } from '@renditions/errors';
import { assertNotPrivateLiteral, ForbiddenAddressError, guardedLookup } from '@renditions/events';

export interface RemoteImageOptions {
  /** A declared Content-Length over this is refused before the body is read (the reader counts the rest). */
  maxBytes: number;
  /** For the whole fetch: every redirect hop and the last byte of the body. */
  timeoutMs: number;
  /** WEBHOOK_ALLOW_PRIVATE: private, loopback and link-local addresses are refused unless this is set. */
  allowPrivate: boolean;
}

/** Long enough for a 20 MB image on a slow origin; short enough that a stalled one does not hold an upload. */
export const REMOTE_IMAGE_TIMEOUT_MS = 30_000;
const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * The bytes behind a public http(s) URL (Imgur's `type=url` upload), as they arrive: the caller spools them and
 * counts them against MAX_UPLOAD_BYTES, and stopping early ends the download. Each redirect hop is checked again,
 * and private addresses are refused at connect time (DNS rebinding included), as for webhooks.
 * @throws {InvalidRequestError} not an http(s) URL, a non-public address, a host that does not answer, too many
 *   redirects, a non-2xx answer, or the deadline passed
 * @throws {FileTooLargeError} the answer declares more than `maxBytes`
 * @example for await (const chunk of fetchRemoteImage('https://example.com/cat.jpg', options)) spool.write(chunk);
 */
export async function* fetchRemoteImage(url: string, options: RemoteImageOptions): AsyncGenerator<Buffer> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const response = await openFollowingRedirects(parseHttpUrl(url), options, deadline);
  try {
    const declared = Number(response.headers['content-length']);
    if (declared > options.maxBytes) {
      throw new FileTooLargeError(`The image at the URL is ${declared} bytes; the limit is ${options.maxBytes} bytes`);
    }
    for await (const chunk of response) yield chunk as Buffer;
  } catch (error) {
    throw translate(error, options.timeoutMs, deadline);
  } finally {
    response.destroy();
  }
}

function parseHttpUrl(raw: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new InvalidRequestError(`Expected an absolute http(s) URL for the image but received ${JSON.stringify(raw.slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidRequestError(`Expected an http(s) URL for the image but received a ${url.protocol} URL`);
  }
  return url;
}

async function openFollowingRedirects(start: URL, options: RemoteImageOptions, deadline: AbortSignal): Promise<IncomingMessage> {
  let url = start;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop += 1) {
    const response = await get(url, options, deadline).catch((error: unknown) => {
      throw translate(error, options.timeoutMs, deadline);
    });
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (REDIRECT_STATUSES.has(status) && location) {
      response.destroy();
      url = parseHttpUrl(location, url);
      continue;
    }
    if (status < 200 || status > 299) {
      response.destroy();
      throw new InvalidRequestError(`The image URL answered ${status} ${response.statusMessage ?? ''}`.trim());
    }
    return response;
  }
  throw new InvalidRequestError(`The image URL redirected more than ${MAX_REDIRECTS} times`);
}

async function get(url: URL, options: RemoteImageOptions, deadline: AbortSignal): Promise<IncomingMessage> {
  if (!options.allowPrivate) assertNotPrivateLiteral(url);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.get(url, {
      headers: { accept: 'image/*', 'user-agent': 'renditions-fetch/1' },
      signal: deadline,
      ...(options.allowPrivate ? {} : { lookup: guardedLookup as never }),
    });
    request.once('response', resolve);
    request.once('error', reject);
  });
}

/** Whatever went wrong fetching is the URL's problem, so the client's: a 400 naming it, never a 500 or a 503. */
function translate(error: unknown, timeoutMs: number, deadline: AbortSignal): unknown {
  if (error instanceof FileTooLargeError || error instanceof InvalidRequestError) return error;
  if (error instanceof ForbiddenAddressError) {
    return new InvalidRequestError(`The image URL must reach a public address: ${error.message}`, { cause: error });
  }
  // Aborted mid-body, the response reports only a reset connection: the signal tells it was the deadline.
  if (deadline.aborted) {
    return new InvalidRequestError(`The image URL did not deliver the image within ${timeoutMs / 1000} s`, { cause: error });
  }
  const code = (error as { code?: string }).code;
  return new InvalidRequestError(`The image URL could not be fetched${code ? ` (${code})` : ''}`, { cause: error });
}
