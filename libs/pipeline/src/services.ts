import type { Config } from '@renditions/config';
import type { Database } from '@renditions/db';
import type { EventBus } from '@renditions/events';
import type { Logger } from '@renditions/observability';
import type { QueueClient } from '@renditions/queue';
import type { ObjectStorage } from '@renditions/storage';

/** What the use cases need from the outside world; the apps build it once and pass it down. */
export interface Services {
  config: Config;
  db: Database;
  storage: ObjectStorage;
  queues: QueueClient;
  logger: Logger;
  events: EventBus;
  /** The `whsec_` secret every process signs webhooks and moderation requests with. */
  webhookSecret(): Promise<string>;
}
