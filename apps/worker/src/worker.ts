import { failUnfinishedRenditions, setStageStatus, type AssetStage } from '@renditions/db';
import type { Metrics } from '@renditions/observability';
import { reconcileAssets, type Services } from '@renditions/pipeline';
import { RENDER_QUEUE_FORMATS, startWorkers, type JobOutcome, type ProcessorMap, type QueueName } from '@renditions/queue';
import { createModerationProcessor } from './processors/moderation';
import { createPhashProcessor } from './processors/phash';
import { createRenderProcessor } from './processors/render';
import { createSettleProcessor } from './processors/settle';
import { createStripProcessor } from './processors/strip';
import { createWebhookProcessor } from './processors/webhook';

export interface WorkerOptions {
  metrics?: Metrics;
}

export interface RunningWorker {
  stop(): Promise<void>;
}

const STAGE_QUEUES: Partial<Record<QueueName, AssetStage>> = { strip: 'strip', phash: 'phash', moderation: 'moderation' };

export function startWorker(services: Services, options: WorkerOptions = {}): RunningWorker {
  const { config, logger } = services;
  const processors: ProcessorMap = {
    strip: createStripProcessor(services),
    phash: createPhashProcessor(services),
    moderation: createModerationProcessor(services),
    render: createRenderProcessor(services, 'render'),
    'render-avif': createRenderProcessor(services, 'render-avif'),
    settle: createSettleProcessor(services),
    webhook: createWebhookProcessor(services),
  };
  const rendering = config.worker.concurrency;
  const pool = startWorkers(processors, {
    redisUrl: config.redisUrl,
    prefix: config.queuePrefix,
    lockDurationMs: config.worker.lockDurationMs,
    concurrency: {
      // An asset's AVIFs start only after its JPEG/WebP renditions (FLOW_TREE), so both queues get every core:
      // a single AVIF slot left the cores idle at the tail of a batch (scripts/bench/renditions.ts).
      render: rendering,
      'render-avif': rendering,
      strip: rendering,
      phash: rendering,
      moderation: 8,
      settle: 8,
      // Deliveries wait on the network, not the CPU.
      webhook: 16,
    },
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
      const sha256 = (job?.data as { sha256?: string } | undefined)?.sha256;
      if (final && sha256) void markFailedForGood(services, queue, sha256);
    },
  });

  // Each pass is scheduled after the previous one ends, so passes never pile up while Redis is away.
  let reconciler: NodeJS.Timeout | undefined;
  let stopped = false;
  const scheduleReconcile = () => {
    reconciler = setTimeout(async () => {
      try {
        const report = await reconcileAssets(services);
        if (report.enqueued > 0) logger.info(report, 'reconciler enqueued lost or pending flows');
      } catch (error) {
        logger.warn({ err: error }, 'reconcile pass failed; will try again');
      }
      if (!stopped) scheduleReconcile();
    }, config.worker.reconcileIntervalMs);
  };
  scheduleReconcile();

  return {
    async stop() {
      stopped = true;
      clearTimeout(reconciler);
      await pool.close();
    },
  };
}

/** Flips what a job failed to produce to `failed` at once, rather than waiting for the flow to settle. */
async function markFailedForGood(services: Services, queue: QueueName, sha256: string): Promise<void> {
  try {
    const stage = STAGE_QUEUES[queue];
    if (stage) await setStageStatus(services.db, sha256, stage, 'failed');
    if (queue === 'render' || queue === 'render-avif') {
      await failUnfinishedRenditions(services.db, sha256, [...RENDER_QUEUE_FORMATS[queue]]);
    }
  } catch (error) {
    services.logger.error({ err: error, queue, sha256 }, 'could not record a final failure; settle will');
  }
}
