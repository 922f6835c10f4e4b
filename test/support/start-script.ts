import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dropDatabase, dropQueueKeys } from './context';
import { freePort } from './ports';
import { testChildEnv, throwawayDatabaseName, throwawayQueuePrefix } from './test-run';

const REDIS_URL = 'redis://127.0.0.1:6379';

/** What `npm start`, run as a child by a test, works on: its own database, queue prefix, storage and port. */
export interface StartScriptBackends {
  url: string;
  /** The child's environment: this run's marker, the backends, and the test's own settings on top. */
  env: NodeJS.ProcessEnv;
  /** Drops the database and the queue keys and removes the storage, once the child is gone. */
  remove(): Promise<void>;
}

export async function startScriptBackends(label: string, settings: Record<string, string>): Promise<StartScriptBackends> {
  const port = await freePort();
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/${throwawayDatabaseName()}`;
  const queuePrefix = throwawayQueuePrefix();
  const storageDir = await mkdtemp(path.join(os.tmpdir(), `${label}-`));
  return {
    url: `http://127.0.0.1:${port}`,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      QUEUE_PREFIX: queuePrefix,
      PORT: String(port),
      STORAGE_DIR: storageDir,
      WORKER_METRICS_PORT: '0',
      ...settings,
      ...testChildEnv(),
    },
    async remove() {
      await dropDatabase(databaseUrl);
      await dropQueueKeys(REDIS_URL, queuePrefix);
      await rm(storageDir, { recursive: true, force: true });
    },
  };
}
