import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pinoHttp } from 'pino-http';
import { NotFoundError } from '@renditions/errors';
import { createMetrics, type Metrics } from '@renditions/observability';
import type { Services } from '@renditions/pipeline';
import { isAdminAuthorization } from './middleware/admin-auth';
import { errorHandler } from './middleware/errors';
import { adminQueueRoutes } from './routes/admin-queues';
import { cdnErrorHeaders, cdnRoutes } from './routes/cdn';
import { healthRoutes } from './routes/health';
import { imageRoutes } from './routes/images';
import { uploadPageRoutes } from './routes/upload-page';

export function createApp(services: Services, metrics: Metrics = createMetrics()): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', 'loopback');
  app.use(pinoHttp({ logger: services.logger, autoLogging: { ignore: (req) => req.url === '/healthz' } }));
  app.use(express.json({ limit: '64kb' }));
  app.use(healthRoutes(services, metrics));
  app.use(uploadPageRoutes());
  app.use(adminQueueRoutes(services));
  app.use(imageRoutes(services, metrics, (header) => isAdminAuthorization(services.config.admin, header)));
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
  const app = createApp(services, options.metrics);
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
        server.closeIdleConnections();
      }),
  };
}
