import { loadConfig } from '@renditions/config';
import { migrateDatabase } from '@renditions/db';
import { createLogger } from '@renditions/observability';
import { createServices } from '@renditions/pipeline';
import { stopOnSignals } from '@renditions/runtime';
import { startServer } from './server';

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'api' });

await migrateDatabase(config.databaseUrl);
const services = createServices(config, logger);
const running = await startServer(services, { port: config.port });
logger.info({ url: config.publicBaseUrl }, `upload page: ${config.publicBaseUrl}/`);

stopOnSignals({
  logger,
  timeoutMs: config.shutdownTimeoutMs,
  stop: async () => {
    await running.stop();
    await services.close();
  },
});
