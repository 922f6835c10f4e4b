import { loadConfig } from '@renditions/config';
import { migrateDatabase } from '@renditions/db';
import { createLogger, createMetrics } from '@renditions/observability';
import { createServices } from '@renditions/pipeline';
import { startWorker } from './worker';

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'worker' });

await migrateDatabase(config.databaseUrl);
const services = createServices(config, logger);
const worker = startWorker(services, { metrics: createMetrics() });
logger.info({ concurrency: config.worker.concurrency }, 'worker started');

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'finishing jobs in flight, then stopping');
  const deadline = setTimeout(() => {
    // Jobs still running are handed back: their locks expire and another worker picks them up.
    logger.error('graceful shutdown timed out');
    process.exit(1);
  }, config.shutdownTimeoutMs);
  deadline.unref();
  await worker.stop();
  await services.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
