/**
 * `npm run reprocess [-- --size s,m] [--format avif] [--since 2025-01-01] [--until 2025-07-01] [--dry-run]`: re-renders
 * the existing renditions the filters select (no filter: every ready rendition) after sizes or encoder settings
 * changed. Marks them and queues the jobs at a backfill priority, then exits; the workers do the rendering below
 * new uploads while every image stays `ready` and keeps serving. `--dry-run` only counts. Running it again is safe.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '@renditions/config';
import type { ReprocessCount } from '@renditions/db';
import { RENDITION_SIZES } from '@renditions/imaging';
import { createLogger } from '@renditions/observability';
import { createServices, parseReprocessFilter, requestReprocess } from '@renditions/pipeline';

const USAGE = 'usage: npm run reprocess [-- --size s,b,t,m,l,h] [--format webp,avif,jpg] [--since <ISO date>] [--until <ISO date>] [--dry-run]';

let filter;
let dryRun;
try {
  const { values } = parseArgs({
    options: {
      size: { type: 'string' },
      format: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
    // A mistyped `--dry-run` must not turn into a real backfill.
    strict: true,
  });
  filter = parseReprocessFilter(values);
  dryRun = values['dry-run'];
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}

const config = loadConfig();
const services = createServices(config, createLogger({ level: config.logLevel, name: 'reprocess' }));
try {
  const report = await requestReprocess(services, filter, { dryRun });
  const total = report.counts.reduce((sum, count) => sum + count.renditions, 0);
  console.log(`${report.dryRun ? 'dry run: would re-render' : 'marked for re-rendering:'} ${total} renditions of ${report.assets} assets`);
  for (const line of describeCounts(report.counts)) console.log(`  ${line}`);
  if (report.dryRun) {
    console.log('nothing was changed');
  } else {
    const queued = Object.entries(report.queued).map(([queue, jobs]) => `${queue} ${jobs}`);
    console.log(`jobs queued at backfill priority: ${queued.length > 0 ? queued.join(', ') : 'none new'}`);
    if (report.deferred > 0) console.log(`${report.deferred} assets could not be queued now (Redis); the workers' reconciler queues them`);
    console.log('the workers re-render them below new uploads; every image stays ready and keeps serving meanwhile');
  }
} catch (error) {
  // On the console too: LOG_LEVEL may silence the logger, never this.
  console.error('reprocess failed:', error);
  process.exitCode = 1;
} finally {
  await services.close();
}

/** "avif: 12 (s 2, b 2, t 2, m 2, l 2, h 2)", one line per format. */
function describeCounts(counts: ReprocessCount[]): string[] {
  const formats = [...new Set(counts.map((count) => count.format))].sort();
  return formats.map((format) => {
    const of = counts.filter((count) => count.format === format);
    const sizes = RENDITION_SIZES.flatMap((size) => of.filter((count) => count.size === size).map((count) => `${size} ${count.renditions}`));
    return `${format}: ${of.reduce((sum, count) => sum + count.renditions, 0)} (${sizes.join(', ')})`;
  });
}
