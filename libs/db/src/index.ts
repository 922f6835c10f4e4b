export * from './schema';
export { connectDatabase, type Database, type DatabaseHandle, type Executor, type Transaction } from './client';
export { ensureDatabase, migrateDatabase, MIGRATIONS_FOLDER } from './migrate';
export * from './queries/assets';
export * from './queries/images';
export * from './queries/webhooks';
