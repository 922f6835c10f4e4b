import { loadConfig, selectWorkerQueues } from '@renditions/config';
import { migrateDatabase } from '@renditions/db';
import { createLogger, createMetrics, startMetricsServer } from '@renditions/observability';
import { createServices, QUEUE_NAMES } from '@renditions/pipeline';
import { stopOnSignals } from '@renditions/runtime';
import { startWorker } from './worker';

const config = loadConfig();
// An unknown WORKER_QUEUES name stops the worker here, before it touches the database or Redis.
selectWorkerQueues(config.worker.queues, QUEUE_NAMES);
const logger = createLogger({ level: config.logLevel, name: 'worker' });

await migrateDatabase(config.databaseUrl);
const services = createServices(config, logger);
// Without WEBHOOK_SECRET, one is generated (and logged) now rather than at the first delivery.
await services.webhookSecret();
const metrics = createMetrics();
const worker = startWorker(services, { metrics });
logger.info({ concurrency: config.worker.concurrency, queues: worker.queues }, 'worker started');
const { metricsPort, metricsHost } = config.worker;
const metricsServer = metricsPort
  ? await startMetricsServer(metrics.registry, { port: metricsPort, host: metricsHost, token: config.metricsToken }).catch(
      (error: unknown) => {
        // A second worker on one host without a port of its own still does its work; it only goes unscraped.
        logger.error({ err: error }, `worker metrics are off: cannot listen on ${metricsHost}:${metricsPort} (WORKER_METRICS_HOST, WORKER_METRICS_PORT)`);
        return undefined;
      },
    )
  : undefined;
// The URL comes from the address actually bound (loopback by default), so this line is the truth.
if (metricsServer) logger.info(`worker metrics: ${metricsServer.url}/metrics`);

stopOnSignals({
  logger,
  timeoutMs: config.shutdownTimeoutMs,
  stop: async () => {
    await worker.stop();
    await metricsServer?.stop();
    await services.close();
  },
});
