import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { addressKey } from './client-key';

/**
 * Refuses a connection from an address that already holds `maxPerAddress`, at accept, before a byte is parsed: one
 * client cannot take the process's whole connection budget (`server.maxConnections`) with slow connections.
 * Connections from a trusted proxy (TRUST_PROXY) are not counted: every client arrives through it, and the proxy
 * caps its own clients (nginx `limit_conn`).
 */
export function capConnectionsPerAddress(
  server: Server,
  maxPerAddress: number,
  isTrustedProxy: (address: string) => boolean,
): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (!address || isTrustedProxy(address)) return;
    const key = addressKey(address);
    const count = (open.get(key) ?? 0) + 1;
    if (count > maxPerAddress) {
      socket.destroy();
      return;
    }
    open.set(key, count);
    socket.once('close', () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left === 0) open.delete(key);
      else open.set(key, left);
    });
  });
}

export interface BodyRateLimits {
  /** The longest a body may go without a byte. */
  idleTimeoutMs: number;
  /** A body's first stretch, in which it may be slower than the minimum rate (a client starting up, TCP slow start). */
  graceMs: number;
  /** Past the grace, the body must have averaged at least this since its first byte was due. */
  minBytesPerSecond: number;
}

interface WatchedBody {
  socket: Socket;
  startedAt: number;
  bytesAtStart: number;
  bytesSeen: number;
  progressAt: number;
}

/**
 * Cuts off a request body that arrives too slowly, as Apache's mod_reqtimeout does (`body=...,MinRate=...`): once a
 * body has gone `idleTimeoutMs` without a byte, or has had `graceMs` plus one second per `minBytesPerSecond` bytes
 * received and is still not complete, its connection is destroyed. A client dripping a byte every 5 s is gone after
 * the grace instead of holding a connection (and a file descriptor) until the request timeout. Node's own
 * `requestTimeout` still bounds the whole request. Progress is read off the socket's byte count: routes read a body
 * as it comes, so a stalled count means a stalled client.
 */
export function limitBodyRate(server: Server, limits: BodyRateLimits): void {
  const watched = new Map<IncomingMessage, WatchedBody>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!hasBody(req)) return;
    const now = Date.now();
    const bytes = req.socket.bytesRead;
    watched.set(req, { socket: req.socket, startedAt: now, bytesAtStart: bytes, bytesSeen: bytes, progressAt: now });
    res.once('close', () => watched.delete(req));
  });

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [req, body] of watched) {
      if (req.complete || body.socket.destroyed) {
        watched.delete(req);
        continue;
      }
      const bytes = body.socket.bytesRead;
      if (bytes > body.bytesSeen) {
        body.bytesSeen = bytes;
        body.progressAt = now;
      }
      const allowedMs = limits.graceMs + ((bytes - body.bytesAtStart) / limits.minBytesPerSecond) * 1000;
      if (now - body.progressAt > limits.idleTimeoutMs || now - body.startedAt > allowedMs) {
        watched.delete(req);
        body.socket.destroy();
      }
    }
  }, Math.min(1000, limits.idleTimeoutMs / 4, limits.graceMs / 4));
  sweep.unref();
  server.once('close', () => clearInterval(sweep));
}

/** Whether the request comes with a body (of declared length, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length']) > 0;
}
