import type { Config } from '@renditions/config';
import type { Database } from '@renditions/db';
import type { EventBus } from '@renditions/events';
import type { Logger } from '@renditions/observability';
import type { QueueClient } from '@renditions/queue';
import type { ObjectStorage } from '@renditions/storage';
import type { CdnPurger } from './cdn-purge';

/** What the use cases need from the outside world; the apps build it once and pass it down. */
export interface Services {
  config: Config;
  db: Database;
  storage: ObjectStorage;
  queues: QueueClient;
  logger: Logger;
  events: EventBus;
  /** Drops cached copies from the CDN in front of the origin (a no-op without CDN_PURGE_URL). */
  cdn: CdnPurger;
  /** The `whsec_` secret every process signs webhooks and moderation requests with. */
  webhookSecret(): Promise<string>;
}
