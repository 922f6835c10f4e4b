/**
 * `npm run sweep [-- --dry-run]`: one sweeper pass now, outside the workers' schedule. Prints every key it
 * removed (or would remove), then the totals; exits non-zero when the pass failed or an object could not go.
 */
import { loadConfig } from '@renditions/config';
import { connectDatabase } from '@renditions/db';
import { createLogger } from '@renditions/observability';
import { sweepStorage } from '@renditions/pipeline';
import { createStorage } from '@renditions/storage';

const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== '--dry-run');
// A mistyped `--dry-run` must not turn into a real pass that deletes.
if (unknown.length > 0) {
  console.error(`unknown argument ${unknown.join(' ')}; usage: npm run sweep [-- --dry-run]`);
  process.exit(2);
}
const dryRun = args.includes('--dry-run');

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'sweep' });
const database = connectDatabase(config.databaseUrl, { max: 1, prepare: config.database.prepare });
const storage = createStorage(config.storage);
try {
  const report = await sweepStorage({ db: database.db, storage, logger }, { graceMs: config.sweep.graceMs, dryRun });
  for (const key of report.removed) console.log(`${dryRun ? 'would remove' : 'removed'} ${key}`);
  console.log(
    `${dryRun ? 'dry run: ' : ''}${report.scanned} scanned, ${report.unreferenced} unreferenced, ` +
      `${report.removed.length} ${dryRun ? 'would be removed' : 'removed'}, ${report.failed} failed, ` +
      `${report.abortedUploads} incomplete uploads aborted`,
  );
  if (report.failed > 0) process.exitCode = 1;
} catch (error) {
  // On the console too: LOG_LEVEL may silence the logger, never this.
  console.error('sweep failed:', error);
  process.exitCode = 1;
} finally {
  await Promise.allSettled([database.close(), storage.close()]);
}
