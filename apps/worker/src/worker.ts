import { selectWorkerQueues } from '@renditions/config';
import type { Metrics } from '@renditions/observability';
import {
  createStageTools,
  QUEUE_NAMES,
  ROOT_STAGE,
  runReprocessJob,
  runStage,
  STAGES,
  type QueueName,
  type Services,
} from '@renditions/pipeline';
import {
  isReprocessJob,
  startWorkers,
  type AssetJobData,
  type Job,
  type JobOutcome,
  type ProcessorFn,
  type ReprocessJobData,
  type StageJobData,
} from '@renditions/queue';
import { startHousekeeping } from './housekeeping';
import { createCleanupProcessor } from './processors/cleanup';
import { createWebhookProcessor } from './processors/webhook';

export interface WorkerOptions {
  metrics?: Metrics;
}

export interface RunningWorker {
  /** The queues this worker serves (WORKER_QUEUES). */
  queues: readonly QueueName[];
  stop(): Promise<void>;
}

/**
 * A processor per queue: every stage through the one runner (a backfill re-render through its own use case), plus
 * cleanup and webhook deliveries.
 */
function processorsFor(services: Services): Record<QueueName, ProcessorFn<never>> {
  const tools = createStageTools(services.config);
  const stages = Object.fromEntries(
    STAGES.map((stage) => {
      const processor: ProcessorFn<StageJobData> = (job) =>
        isReprocessJob(job.data)
          ? runReprocessJob(services, tools, stage, job as Job<ReprocessJobData, JobOutcome>)
          : runStage(services, tools, stage, job as Job<AssetJobData, JobOutcome>);
      return [stage.name, processor];
    }),
  );
  return {
    ...stages,
    cleanup: createCleanupProcessor(services),
    webhook: createWebhookProcessor(services),
  } as unknown as Record<QueueName, ProcessorFn<never>>;
}

/**
 * Serves the queues WORKER_QUEUES names (all by default). The reconciler and the sweeper run only in a worker that
 * serves `settle`, the flow's root: every deployment has one (no image would ever settle without it), while
 * dedicated hosts added for one queue (AVIF encoding, say) do not multiply the reconcile queries and bucket listings.
 * @throws {ConfigError} when WORKER_QUEUES names a queue that does not exist, before anything connects
 */
export function startWorker(services: Services, options: WorkerOptions = {}): RunningWorker {
  const { config, logger } = services;
  const queues = selectWorkerQueues(config.worker.queues, QUEUE_NAMES);
  const all = processorsFor(services);
  const processors = Object.fromEntries(queues.map((queue) => [queue, all[queue]]));
  const cores = config.worker.concurrency;
  const pool = startWorkers(processors, {
    redisUrl: config.redisUrl,
    redisClusterNodes: config.redisClusterNodes,
    prefix: config.queuePrefix,
    lockDurationMs: config.worker.lockDurationMs,
    concurrency: {
      // The CPU scheduler bounds decodes and encodes to the cores, so the render queues hold more jobs than cores:
      // half their slots may go to backfill re-renders (backgroundLimit), the other half stay for new uploads.
      // An asset's AVIFs start only after its JPEG/WebP renditions (the stage list), so both render queues get as
      // many slots: a single AVIF slot left the cores idle at the tail of a batch (scripts/bench/renditions.ts).
      render: 2 * cores,
      'render-avif': 2 * cores,
      strip: cores,
      phash: cores,
      moderation: 8,
      settle: 8,
      // Cleanup and deliveries wait on storage and the network, not the CPU.
      cleanup: 8,
      webhook: 16,
    } satisfies Record<QueueName, number>,
    backgroundLimit: { render: cores, 'render-avif': cores },
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
  const housekeeping = queues.includes(ROOT_STAGE) ? startHousekeeping(services, options.metrics) : undefined;

  return {
    queues,
    async stop() {
      await Promise.all([pool.close(), housekeeping?.stop()]);
    },
  };
}
