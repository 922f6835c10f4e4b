import postgres from 'postgres';
import { connectDatabase, type Database } from '../src/client';
import { migrateDatabase } from '../src/migrate';
import { throwawayDatabaseName } from '../../../test/support/test-run';

const ADMIN_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ThrowawayDatabase {
  db: Database;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** A database of its own for one test file, migrated with the real migrations. */
export async function createThrowawayDatabase(): Promise<ThrowawayDatabase> {
  const name = throwawayDatabaseName();
  await migrateDatabase(`postgres://postgres@127.0.0.1:5432/${name}`);
  const handle = connectDatabase(`postgres://postgres@127.0.0.1:5432/${name}`, { max: 2 });
  return {
    db: handle.db,
    async drop() {
      await handle.close();
      const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => undefined });
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}
