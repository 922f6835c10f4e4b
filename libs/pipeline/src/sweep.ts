import { findRecordedKeys, type Database } from '@renditions/db';
import type { Logger } from '@renditions/observability';
import type { ObjectStorage } from '@renditions/storage';

/** Keys looked up per query: memory stays bounded however many objects the store holds. */
const KEYS_PER_BATCH = 500;

export interface SweepDeps {
  db: Database;
  storage: ObjectStorage;
  logger: Logger;
}

export interface SweepOptions {
  /** How old an unreferenced object must be: younger ones may belong to a write whose row is not committed yet. */
  graceMs: number;
  /** Report what would go, remove nothing. */
  dryRun?: boolean;
  now?: Date;
  /** Ends the pass at the next object, so a stopping worker does not wait for a whole listing. */
  signal?: AbortSignal;
}

export interface SweepReport {
  /** Objects listed, young ones included. */
  scanned: number;
  /** Objects past the grace that no row records. */
  unreferenced: number;
  /** Keys removed (in a dry run: that would be). */
  removed: string[];
  /** Unreferenced objects whose delete failed; the next pass tries again. */
  failed: number;
  abortedUploads: number;
}

/**
 * One pass of the sweeper: removes every stored object and interrupted write's temp file that no row records
 * and that is older than the grace, then aborts multipart uploads nobody finished. What crashes leave behind
 * between writing an object and recording it (or between forgetting a row and deleting its objects) ends here.
 */
export async function sweepStorage(deps: SweepDeps, options: SweepOptions): Promise<SweepReport> {
  const { db, storage, logger } = deps;
  const { dryRun = false, signal } = options;
  const cutoff = new Date((options.now ?? new Date()).getTime() - options.graceMs);
  const report: SweepReport = { scanned: 0, unreferenced: 0, removed: [], failed: 0, abortedUploads: 0 };

  const sweepBatch = async (keys: string[]) => {
    const recorded = await findRecordedKeys(db, keys);
    for (const key of keys) {
      if (recorded.has(key)) continue;
      report.unreferenced += 1;
      if (dryRun) {
        report.removed.push(key);
        continue;
      }
      try {
        await storage.delete(key);
        report.removed.push(key);
        logger.debug({ key }, 'sweeper removed an unreferenced object');
      } catch (error) {
        report.failed += 1;
        logger.warn({ err: error, key }, 'sweeper could not remove an unreferenced object; the next pass retries');
      }
    }
  };

  let batch: string[] = [];
  for await (const object of storage.list('')) {
    if (signal?.aborted) break;
    report.scanned += 1;
    if (object.lastModified >= cutoff) continue;
    batch.push(object.key);
    if (batch.length === KEYS_PER_BATCH) {
      await sweepBatch(batch);
      batch = [];
    }
  }
  if (signal?.aborted) {
    logger.info({ scanned: report.scanned, removed: report.removed.length }, 'sweep pass interrupted');
    return report;
  }
  await sweepBatch(batch);
  if (!dryRun) report.abortedUploads = await storage.abortIncompleteUploads(cutoff);

  const { scanned, unreferenced, failed, abortedUploads } = report;
  logger.info({ dryRun, scanned, unreferenced, removed: report.removed.length, failed, abortedUploads }, 'sweep pass done');
  return report;
}

export interface SweepSchedule {
  intervalMs: number;
  graceMs: number;
  onPass?(report: SweepReport): void;
  onError?(error: unknown): void;
}

/**
 * Runs a pass every `intervalMs`, the first one interval after the start. Each pass is timed from the end of
 * the previous one, so a slow listing never overlaps itself. `stop()` ends a pass in flight at its next object
 * and resolves once it has.
 */
export function scheduleSweeps(deps: SweepDeps, options: SweepSchedule): { stop(): Promise<void> } {
  const { intervalMs, graceMs, onPass, onError } = options;
  const halt = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> | undefined;

  const runPass = async () => {
    try {
      // Not `onPass?.(await sweepStorage(...))`: without onPass that would skip the pass itself.
      const report = await sweepStorage(deps, { graceMs, signal: halt.signal });
      onPass?.(report);
    } catch (error) {
      deps.logger.error({ err: error }, 'sweep pass failed; the next one retries');
      onError?.(error);
    }
  };
  const scheduleNext = () => {
    timer = setTimeout(() => {
      pass = runPass().finally(() => {
        pass = undefined;
        if (!halt.signal.aborted) scheduleNext();
      });
    }, intervalMs);
    // A pass still to come must not keep alive a process that is otherwise done.
    timer.unref();
  };
  scheduleNext();

  return {
    async stop() {
      halt.abort();
      clearTimeout(timer);
      await pass;
    },
  };
}
