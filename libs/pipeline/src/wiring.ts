import type { Config } from '@renditions/config';
import { connectDatabase } from '@renditions/db';
import { EventBus } from '@renditions/events';
import type { Logger } from '@renditions/observability';
import { createRedisConnection, QueueClient } from '@renditions/queue';
import { createStorage } from '@renditions/storage';
import { createCdnPurger } from './cdn-purge';
import { flowStages, QUEUE_NAMES, ROOT_STAGE } from './stages';
import type { Services } from './services';
import { webhookSecretProvider } from './webhook-secret';

export interface ServicesHandle extends Services {
  close(): Promise<void>;
}

/** Connects everything a process needs; nothing here blocks on a dependency being up. */
export function createServices(config: Config, logger: Logger): ServicesHandle {
  const database = connectDatabase(config.databaseUrl, { max: config.database.poolSize, prepare: config.database.prepare });
  const storage = createStorage(config.storage);
  const queues = new QueueClient({
    redisUrl: config.redisUrl,
    redisClusterNodes: config.redisClusterNodes,
    prefix: config.queuePrefix,
    queueNames: QUEUE_NAMES,
    flow: { stages: flowStages(config), root: ROOT_STAGE },
  });
  const events = new EventBus((purpose) => createRedisConnection(config, purpose), config.queuePrefix);
  return {
    config,
    logger,
    db: database.db,
    storage,
    queues,
    events,
    cdn: createCdnPurger(config.cdnPurgeUrl, logger),
    webhookSecret: webhookSecretProvider(database.db, config.webhooks.secret, logger),
    async close() {
      await Promise.allSettled([queues.close(), events.close(), storage.close(), database.close()]);
    },
  };
}
