import type { Metrics } from '@renditions/observability';
import { createStageTools, reconcileAssets, runStage, scheduleSweeps, STAGES, type QueueName, type Services } from '@renditions/pipeline';
import { startWorkers, type AssetJobData, type JobOutcome, type ProcessorFn } from '@renditions/queue';
import { createCleanupProcessor } from './processors/cleanup';
import { createWebhookProcessor } from './processors/webhook';

export interface WorkerOptions {
  metrics?: Metrics;
}

export interface RunningWorker {
  stop(): Promise<void>;
}

/** A processor per queue: every stage through the one runner, plus cleanup and webhook deliveries. */
function processorsFor(services: Services): Record<QueueName, ProcessorFn<never>> {
  const tools = createStageTools(services.config);
  const stages = Object.fromEntries(
    STAGES.map((stage) => [stage.name, (job) => runStage(services, tools, stage, job)] as [string, ProcessorFn<AssetJobData>]),
  );
  return {
    ...stages,
    cleanup: createCleanupProcessor(services),
    webhook: createWebhookProcessor(services),
  } as unknown as Record<QueueName, ProcessorFn<never>>;
}

export function startWorker(services: Services, options: WorkerOptions = {}): RunningWorker {
  const { config, logger } = services;
  const cores = config.worker.concurrency;
  const pool = startWorkers(processorsFor(services), {
    redisUrl: config.redisUrl,
    prefix: config.queuePrefix,
    lockDurationMs: config.worker.lockDurationMs,
    concurrency: {
      // An asset's AVIFs start only after its JPEG/WebP renditions (the stage list), so both render queues get
      // every core: a single AVIF slot left the cores idle at the tail of a batch (scripts/bench/renditions.ts).
      render: cores,
      'render-avif': cores,
      strip: cores,
      phash: cores,
      moderation: 8,
      settle: 8,
      // Cleanup and deliveries wait on storage and the network, not the CPU.
      cleanup: 8,
      webhook: 16,
    } satisfies Record<QueueName, number>,
    onError: (queue, error) => logger.error({ err: error, queue }, 'worker error'),
    onCompleted: (queue, job, durationMs) => {
      options.metrics?.jobDuration.observe({ queue }, durationMs / 1000);
      if (queue === 'webhook') {
        const skipped = (job.returnvalue as JobOutcome | undefined)?.outcome === 'skipped';
        options.metrics?.webhookDeliveries.inc({ outcome: skipped ? 'skipped' : 'delivered' });
      }
      logger.debug({ queue, jobId: job.id, durationMs }, 'job completed');
    },
    onFailed: (queue, job, error, final) => {
      options.metrics?.jobFailures.inc({ queue, final: String(final) });
      if (queue === 'webhook') options.metrics?.webhookDeliveries.inc({ outcome: final ? 'failed' : 'retrying' });
      logger.warn({ err: error, queue, jobId: job?.id, final }, 'job failed');
    },
  });

  // Each pass is scheduled after the previous one ends, so passes never pile up while a dependency is away.
  let reconciler: NodeJS.Timeout | undefined;
  let stopped = false;
  const scheduleReconcile = () => {
    reconciler = setTimeout(async () => {
      try {
        const report = await reconcileAssets(services);
        if (report.enqueued + report.relayed + report.failed > 0) logger.info(report, 'reconcile pass');
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
      options.metrics?.sweepPasses.inc({ outcome: 'ok' });
      options.metrics?.sweptObjects.inc(report.removed.length);
      if (report.removed.length > 0) logger.info({ removed: report.removed.length, scanned: report.scanned }, 'sweeper removed unreferenced objects');
    },
    onError: (error) => {
      options.metrics?.sweepPasses.inc({ outcome: 'failed' });
      logger.warn({ err: error }, 'sweep pass failed; the next one will try again');
    },
  });

  return {
    async stop() {
      stopped = true;
      clearTimeout(reconciler);
      await Promise.all([pool.close(), sweeper.stop()]);
    },
  };
}
