import { loadConfig } from '@renditions/config';
import { migrateDatabase } from '@renditions/db';
import { createLogger } from '@renditions/observability';
import { createServices } from '@renditions/pipeline';
import { startServer } from './server';

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'api' });

await migrateDatabase(config.databaseUrl);
const services = createServices(config, logger);
const running = await startServer(services, { port: config.port });
logger.info({ url: config.publicBaseUrl }, `upload page: ${config.publicBaseUrl}/`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'finishing in-flight requests, then stopping');
  const deadline = setTimeout(() => {
    logger.error('graceful shutdown timed out');
    process.exit(1);
  }, config.shutdownTimeoutMs);
  deadline.unref();
  await running.stop();
  await services.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
