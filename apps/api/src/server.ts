import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { NotFoundError } from '@renditions/errors';
import { createMetrics, type Metrics } from '@renditions/observability';
import type { Services } from '@renditions/pipeline';
import { imgurMaxBodyBytes } from './imgur/upload-body';
import { ownerAccessReader } from './middleware/admin-auth';
import { capConnectionsPerAddress, limitBodyRate } from './middleware/connection-guards';
import { errorHandler } from './middleware/errors';
import { jsonBody } from './middleware/json-body';
import { requestLog } from './middleware/request-log';
import { securityHeaders } from './middleware/security-headers';
import { adminBlocklistRoutes } from './routes/admin-blocklist';
import { adminModerationRoutes } from './routes/admin-moderation';
import { adminQueueRoutes } from './routes/admin-queues';
import { apiDocsRoutes } from './routes/api-docs';
import { cdnErrorHeaders, cdnRoutes } from './routes/cdn';
import { deliveryRoutes } from './routes/deliveries';
import { eventRoutes } from './routes/events';
import { healthRoutes } from './routes/health';
import { imageRoutes } from './routes/images';
import { imgurRoutes } from './routes/imgur';
import { metadataRoutes } from './routes/metadata';
import { similarRoutes } from './routes/similar';
import { uploadPageRoutes } from './routes/upload-page';

export function createApp(
  services: Services,
  metrics: Metrics = createMetrics({ readQueueDepth: () => services.queues.jobCounts() }),
  /** Aborted when the server stops: ends the live event streams, which would otherwise hold the stop. */
  shutdown: AbortSignal = new AbortController().signal,
  edge: Pick<EdgeLimits, 'drainRefusedBodyMs'> = EDGE_LIMITS,
): express.Express {
  const ownerAccess = ownerAccessReader(services.config.admin);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Only behind a proxy named in TRUST_PROXY is the client address taken from X-Forwarded-For (rate limits key on it).
  app.set('trust proxy', services.config.edge.trustProxy);
  app.use(requestLog(services.logger));
  app.use(securityHeaders(services.config));
  // Before jsonBody: Imgur uploads may be JSON far over its 64 KB, and the Imgur routes read their own bodies.
  app.use(imgurRoutes(services, metrics));
  app.use(jsonBody());
  app.use(healthRoutes(services, metrics));
  app.use(uploadPageRoutes());
  app.use(apiDocsRoutes());
  app.use(adminQueueRoutes(services));
  app.use(adminBlocklistRoutes(services));
  app.use(adminModerationRoutes(services));
  app.use(imageRoutes(services, metrics, ownerAccess));
  app.use(deliveryRoutes(services, ownerAccess));
  app.use(metadataRoutes(services, ownerAccess));
  app.use(similarRoutes(services));
  app.use(eventRoutes(services, shutdown));
  app.use(cdnRoutes(services));
  app.use((req, _res, next) => next(new NotFoundError(`No route for ${req.method} ${req.path}`)));
  app.use(cdnErrorHeaders);
  // The largest body a route accepts is an Imgur upload's image as base64.
  const refusedBodyDrain = {
    maxBytes: imgurMaxBodyBytes(services.config.limits.maxUploadBytes),
    maxMs: edge.drainRefusedBodyMs,
    stopping: shutdown,
  };
  app.use(errorHandler(services.logger, refusedBodyDrain));
  return app;
}

export interface RunningServer {
  server: Server;
  /** The base URL the server listens on, e.g. http://127.0.0.1:54321 (port 0 picks a free port). */
  url: string;
  /** Stops accepting connections and waits for in-flight requests (uploads included) to finish. */
  stop(): Promise<void>;
}

/**
 * How long a client may take and how many connections it may hold: the defence against slow and piled-up clients.
 * Production values below; tests pass smaller ones.
 */
export interface EdgeLimits {
  /** The whole request, headers and body, must arrive in this (Node's requestTimeout, answered 408): a 20 MB upload
   * at 175 KB/s (1.4 Mbit/s) or better. */
  requestTimeoutMs: number;
  /** The request headers must arrive in this (Node's headersTimeout, 408): a slowloris dripping headers is gone. */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this; it must also not outlive a graceful stop for long. */
  keepAliveTimeoutMs: number;
  /** A body may go this long without a byte ... */
  bodyIdleTimeoutMs: number;
  /** ... and past this grace must average `minBodyBytesPerSecond` (see limitBodyRate). */
  bodyGraceMs: number;
  minBodyBytesPerSecond: number;
  /** Connections the process holds at most (Node refuses the rest at accept): file descriptors stay free for storage,
   * the database and Redis, well under a 65,536 descriptor limit. */
  maxConnections: number;
  /** Connections one address (an IPv6 /64) holds at most, unless it is a trusted proxy. */
  maxConnectionsPerAddress: number;
  /** The rest of a body refused before it was read is read and dropped for at most this long (finishBodyAfterAnswer). */
  drainRefusedBodyMs: number;
}

export const EDGE_LIMITS: EdgeLimits = {
  requestTimeoutMs: 120_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  bodyIdleTimeoutMs: 15_000,
  bodyGraceMs: 10_000,
  // 1 KB/s: far below any real uplink, far above a byte every few seconds.
  minBodyBytesPerSecond: 1024,
  maxConnections: 4_000,
  // Room for a browser (6 per host), an office behind one NAT, and an uploading script; not for thousands of sockets.
  maxConnectionsPerAddress: 64,
  drainRefusedBodyMs: 10_000,
};

export async function startServer(
  services: Services,
  options: { port: number; host?: string; metrics?: Metrics; edge?: Partial<EdgeLimits> },
): Promise<RunningServer> {
  const limits = { ...EDGE_LIMITS, ...options.edge };
  const stopping = new AbortController();
  const app = createApp(services, options.metrics, stopping.signal, limits);
  const server = createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      // How often Node checks the two timeouts above (30 s by default, which would let them overrun by as much).
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs / 2),
    },
    app,
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  const trustProxy = app.get('trust proxy fn') as (address: string, hop: number) => boolean;
  capConnectionsPerAddress(server, limits.maxConnectionsPerAddress, (address) => trustProxy(address, 0));
  limitBodyRate(server, {
    idleTimeoutMs: limits.bodyIdleTimeoutMs,
    graceMs: limits.bodyGraceMs,
    minBytesPerSecond: limits.minBodyBytesPerSecond,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        stopping.abort();
        server.closeIdleConnections();
      }),
  };
}
