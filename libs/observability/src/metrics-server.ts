import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface RunningMetricsServer {
  /** Where it really listens, e.g. http://127.0.0.1:9464 (or http://0.0.0.0:9464 on every interface); the metrics are at `${url}/metrics`. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Whether an `Authorization` header carries `Bearer <token>`. Both sides are hashed first so the comparison takes
 * the same time whatever the length of the guess. With no token configured, every request passes.
 */
export function metricsAuthorized(token: string | null | undefined, header: string | undefined): boolean {
  if (!token) return true;
  const match = /^Bearer +(.+)$/i.exec(header?.trim() ?? '');
  if (!match) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
}

/**
 * Serves one registry as `GET /metrics` on a port of its own: how a process without an HTTP API of its own
 * (the worker) is scraped by Prometheus. Port 0 picks a free port. Loopback unless a host is given: metrics
 * name queues and failure counts, which are nobody else's business; a scraper on another host needs the host
 * set (and preferably the token).
 */
export async function startMetricsServer(
  registry: Registry,
  options: { port: number; host?: string; token?: string | null },
): Promise<RunningMetricsServer> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found: the metrics are at /metrics\n');
      return;
    }
    if (!metricsAuthorized(options.token, req.headers.authorization)) {
      res.writeHead(401, { 'Content-Type': 'text/plain', 'WWW-Authenticate': 'Bearer realm="metrics"' }).end('Unauthorized\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (error: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // The URL is built from the address actually bound, so whatever logs it tells the truth.
  const { address, family, port } = server.address() as AddressInfo;
  return {
    url: `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
