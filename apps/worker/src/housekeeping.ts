import type { Metrics } from '@renditions/observability';
import { reconcileAssets, requeueStaleReprocess, scheduleSweeps, type Services } from '@renditions/pipeline';

export interface Housekeeping {
  stop(): Promise<void>;
}

/**
 * The reconciler (outbox relays, lost flows, unfinished cleanups, lost re-renders) every RECONCILE_INTERVAL_MS and
 * the sweeper every SWEEP_INTERVAL_MS. Both are idempotent, so several workers may run them at once.
 */
export function startHousekeeping(services: Services, metrics?: Metrics): Housekeeping {
  const { config, logger } = services;
  // Each pass is scheduled after the previous one ends, so passes never pile up while a dependency is away.
  let reconciler: NodeJS.Timeout | undefined;
  let stopped = false;
  const scheduleReconcile = () => {
    reconciler = setTimeout(async () => {
      try {
        const report = await reconcileAssets(services);
        if (report.enqueued + report.relayed + report.failed > 0) logger.info(report, 'reconcile pass');
        const backfill = await requeueStaleReprocess(services);
        if (backfill.requeued + backfill.failed > 0) logger.info(backfill, 're-renders queued again');
      } catch (error) {
        logger.warn({ err: error }, 'reconcile pass failed; will try again');
      }
      if (!stopped) scheduleReconcile();
    }, config.worker.reconcileIntervalMs);
  };
  scheduleReconcile();

  const sweeper = scheduleSweeps(services, {
    intervalMs: config.sweep.intervalMs,
    graceMs: config.sweep.graceMs,
    onPass: (report) => {
      metrics?.sweepPasses.inc({ outcome: 'ok' });
      metrics?.sweptObjects.inc(report.removed.length);
      if (report.removed.length > 0) logger.info({ removed: report.removed.length, scanned: report.scanned }, 'sweeper removed unreferenced objects');
    },
    onError: (error) => {
      metrics?.sweepPasses.inc({ outcome: 'failed' });
      logger.warn({ err: error }, 'sweep pass failed; the next one will try again');
    },
  });

  return {
    async stop() {
      stopped = true;
      clearTimeout(reconciler);
      await sweeper.stop();
    },
  };
}
