import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pinoHttp } from 'pino-http';
import { NotFoundError } from '@renditions/errors';
import { createMetrics, type Metrics } from '@renditions/observability';
import type { Services } from '@renditions/pipeline';
import { ownerAccessReader } from './middleware/admin-auth';
import { errorHandler } from './middleware/errors';
import { adminBlocklistRoutes } from './routes/admin-blocklist';
import { adminModerationRoutes } from './routes/admin-moderation';
import { adminQueueRoutes } from './routes/admin-queues';
import { cdnErrorHeaders, cdnRoutes } from './routes/cdn';
import { deliveryRoutes } from './routes/deliveries';
import { eventRoutes } from './routes/events';
import { healthRoutes } from './routes/health';
import { imageRoutes } from './routes/images';
import { metadataRoutes } from './routes/metadata';
import { similarRoutes } from './routes/similar';
import { uploadPageRoutes } from './routes/upload-page';

export function createApp(
  services: Services,
  metrics: Metrics = createMetrics({ readQueueDepth: () => services.queues.jobCounts() }),
  /** Aborted when the server stops: ends the live event streams, which would otherwise hold the stop. */
  shutdown: AbortSignal = new AbortController().signal,
): express.Express {
  const ownerAccess = ownerAccessReader(services.config.admin);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', 'loopback');
  app.use(pinoHttp({ logger: services.logger, autoLogging: { ignore: (req) => req.url === '/healthz' } }));
  app.use(express.json({ limit: '64kb' }));
  app.use(healthRoutes(services, metrics));
  app.use(uploadPageRoutes());
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
  app.use(errorHandler(services.logger));
  return app;
}

export interface RunningServer {
  server: Server;
  /** The base URL the server listens on, e.g. http://127.0.0.1:54321 (port 0 picks a free port). */
  url: string;
  /** Stops accepting connections and waits for in-flight requests (uploads included) to finish. */
  stop(): Promise<void>;
}

export async function startServer(
  services: Services,
  options: { port: number; host?: string; metrics?: Metrics },
): Promise<RunningServer> {
  const stopping = new AbortController();
  const app = createApp(services, options.metrics, stopping.signal);
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(options.port, options.host ?? '0.0.0.0', (error?: Error) =>
      error ? reject(error) : resolve(listening),
    );
  });
  // Keep-alive sockets must not outlive a graceful stop.
  server.keepAliveTimeout = 5000;
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
