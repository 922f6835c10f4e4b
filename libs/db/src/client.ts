import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema';

export type Database = PostgresJsDatabase<typeof schema>;
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
/** Either the pool or an open transaction: queries take whichever the caller holds. */
export type Executor = Database | Transaction;

export interface DatabaseHandle {
  db: Database;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Connections in the pool (DATABASE_POOL_SIZE); behind a pooler, this process's share of its client connections. */
  max?: number;
  /**
   * Named prepared statements (DATABASE_PREPARE). Off behind a pooler in transaction mode (PgBouncer before 1.21),
   * which runs each transaction on whichever server connection is free: a statement prepared on one is unknown on
   * the next. Unnamed statements cost a parse per query and work everywhere.
   */
  prepare?: boolean;
}

export function connectDatabase(url: string, options: ConnectOptions = {}): DatabaseHandle {
  const client = postgres(url, {
    max: options.max ?? 10,
    prepare: options.prepare ?? true,
    onnotice: () => undefined,
    // Fail fast when PostgreSQL is unreachable so requests answer 503 instead of hanging.
    connect_timeout: 5,
  });
  return { db: drizzle(client, { schema }), close: () => client.end({ timeout: 5 }) };
}
