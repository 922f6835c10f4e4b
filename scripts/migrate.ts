import { loadConfig } from '@renditions/config';
import { migrateDatabase } from '@renditions/db';

const config = loadConfig();
await migrateDatabase(config.databaseUrl);
console.log(`migrations applied to ${new URL(config.databaseUrl).pathname.slice(1)}`);
