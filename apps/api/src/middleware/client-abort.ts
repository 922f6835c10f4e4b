import type { Request } from 'express';

/** What a stream or socket error carries when the other end went away. */
const CONNECTION_GONE_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/**
 * True when an error is only the consequence of the client going away (a cancelled upload, a closed tab, a lost
 * network): raw-body's `request.aborted`, or this request's own connection closed while its body was still coming
 * or with a reset/premature-close code. Not a fault of ours, and nobody is left to answer; a dependency's reset
 * (PostgreSQL, Redis) on a connection that is still open is not one of these.
 */
export function isClientAbort(error: unknown, req: Request): boolean {
  const { type, code } = (error ?? {}) as { type?: unknown; code?: unknown };
  if (type === 'request.aborted') return true;
  const connectionGone = req.socket?.destroyed ?? true;
  return connectionGone && (!req.complete || (typeof code === 'string' && CONNECTION_GONE_CODES.has(code)));
}
