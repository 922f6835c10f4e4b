import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { connectDatabase } from './client';

const MIGRATION_LOCK = 72_4201;
/** How long a starter waits before asking again for the lock another one holds while it migrates. */
const LOCK_RETRY_MS = 100;

export const MIGRATIONS_FOLDER = path.resolve(import.meta.dirname, '../../../drizzle');

/** Creates the database named in `url` when it does not exist yet (a fresh machine needs no manual step). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) throw new Error(`Expected a database name in DATABASE_URL but received "${url}"`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const sql = postgres(admin.toString(), { max: 1, prepare: false, onnotice: () => undefined, connect_timeout: 5 });
  try {
    const existing = await sql`select 1 from pg_database where datname = ${name}`;
    if (existing.length === 0) {
      await sql.unsafe(`create database "${name.replaceAll('"', '""')}"`).catch((error: { code?: string }) => {
        // Another process created it between our check and our create.
        if (error.code !== '42P04') throw error;
      });
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Applies the drizzle-kit migrations in `drizzle/`; safe to run from several processes at once, also through a
 * pooler in transaction mode (PgBouncer). Starters take turns on a transaction-level advisory lock, held by an open
 * transaction on a connection of its own while the migrations run on a second one: behind such a pooler a
 * session-level lock stays on whichever server connection took it, never released. A starter that does not get
 * the lock ends its transaction and asks again a little later instead of waiting inside it, so waiting starters
 * hold no server connection the migrating one needs. Nothing is prepared, for the same pooler.
 */
export async function migrateDatabase(url: string): Promise<void> {
  await ensureDatabase(url);
  const lock = postgres(url, { max: 1, prepare: false, onnotice: () => undefined, connect_timeout: 5 });
  const { db, close } = connectDatabase(url, { max: 1, prepare: false });
  try {
    const migrateWhileLocked = () =>
      lock.begin(async (tx) => {
        const [row] = await tx<{ locked: boolean }[]>`select pg_try_advisory_xact_lock(${MIGRATION_LOCK}) as locked`;
        if (!row?.locked) return false;
        await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
        return true;
      });
    while (!(await migrateWhileLocked())) await sleep(LOCK_RETRY_MS);
  } finally {
    await Promise.allSettled([close(), lock.end({ timeout: 5 })]);
  }
}
