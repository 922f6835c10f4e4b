import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase } from '@renditions/db';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload, waitForImage, type UploadResponse } from '../support/http';
import { startPgBouncer, type PgBouncer } from '../support/pgbouncer';
import { throwawayDatabaseName } from '../support/test-run';

/** Server connections PgBouncer may open to the database: fewer than the product's pool asks for. */
const POOL_SIZE = 3;

/**
 * The product on PostgreSQL through PgBouncer in transaction pooling mode (DATABASE_PREPARE=false): migrations run
 * directly on PostgreSQL (the test context), the API and the worker through the pooler.
 */
describe('PostgreSQL through PgBouncer in transaction pooling mode', () => {
  let bouncer: PgBouncer;
  let ctx: TestContext;
  let database: string;

  /** A count read directly on PostgreSQL, past the pooler. */
  const countOnServer = async (query: (admin: postgres.Sql) => Promise<Array<{ n: number }>>) => {
    const admin = postgres('postgres://postgres@127.0.0.1:5432/postgres', { max: 1, onnotice: () => undefined });
    try {
      return (await query(admin))[0]!.n;
    } finally {
      await admin.end();
    }
  };
  const serverConnections = () => countOnServer((admin) => admin`select count(*)::int as n from pg_stat_activity where datname = ${database}`);
  const advisoryLocks = () =>
    countOnServer(
      (admin) => admin`select count(*)::int as n from pg_locks l join pg_database d on d.oid = l.database where l.locktype = 'advisory' and d.datname = ${database}`,
    );

  beforeAll(async () => {
    bouncer = await startPgBouncer({ poolSize: POOL_SIZE });
    database = throwawayDatabaseName();
    ctx = await createTestContext({
      databaseName: database,
      env: { DATABASE_URL: bouncer.url(database), DATABASE_PREPARE: 'false', DATABASE_POOL_SIZE: '8' },
    });
  });
  afterAll(async () => {
    await ctx?.stop();
    await bouncer?.stop();
  });

  it('takes uploads to ready, every query of the API and the worker going through the pooler', async () => {
    const images = await Promise.all(
      ['photos/DSCN0010.jpg', 'photos/DSCN0021.jpg', 'photos/DSCN0010.jpg'].map(
        async (photo) => (await (await upload(ctx.url, readCorpus(photo))).json()) as UploadResponse,
      ),
    );
    let peak = 0;
    for (const image of images) {
      const ready = await waitForImage(ctx.url, image.id);
      expect(ready.status, bouncer.log()).toBe('ready');
      expect(ready.renditions.filter((rendition) => rendition.status === 'ready')).toHaveLength(18);
      peak = Math.max(peak, await serverConnections());
    }
    // The product's pool holds up to 8 connections: PostgreSQL saw at most the pooler's.
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(POOL_SIZE);
    const rows = await ctx.services.db.execute<{ n: number }>(sql`select count(*)::int as n from renditions where status = 'ready'`);
    expect(rows[0]!.n).toBe(36);
  });

  it('migrates through the pooler, several starters at once taking turns, and leaves no lock behind', async () => {
    for (let round = 0; round < 3; round += 1) {
      await Promise.all([1, 2, 3, 4].map(() => migrateDatabase(bouncer.url(database))));
      // A session-level lock would stay held on whichever server connection took it.
      expect(await advisoryLocks()).toBe(0);
    }
    expect(await serverConnections()).toBeLessThanOrEqual(POOL_SIZE);
  });
});
