import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Jobs per queue, then per state. */
export type QueueDepth = Record<string, Record<string, number>>;

export interface MetricsOptions {
  /**
   * Read at every scrape to fill queue_depth. It must give up by itself when its source is unreachable: a
   * failed read leaves the gauge empty rather than failing or stalling the scrape.
   */
  readQueueDepth?: () => Promise<QueueDepth>;
}

/** One registry per process role, so tests can start several in one process without clashing. */
export function createMetrics(options: MetricsOptions = {}) {
  const { readQueueDepth } = options;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    uploads: new Counter({
      name: 'uploads_total',
      help: 'Upload requests by outcome (created, deduplicated, or the error code)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    uploadDuration: new Histogram({
      name: 'upload_duration_seconds',
      help: 'Time from request start to the 201 answer',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'job_duration_seconds',
      help: 'Processing time per queue',
      labelNames: ['queue'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    jobFailures: new Counter({
      name: 'job_failures_total',
      help: 'Failed job attempts per queue (final marks attempts that will not be retried)',
      labelNames: ['queue', 'final'] as const,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'queue_depth',
      help: 'Jobs per queue and state, read from the queues at scrape time',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
      async collect() {
        if (!readQueueDepth) return;
        // Counts from an earlier scrape would claim a depth nobody measured.
        this.reset();
        const depth = await readQueueDepth().catch(() => ({}) as QueueDepth);
        for (const [queue, states] of Object.entries(depth)) {
          for (const [state, count] of Object.entries(states)) this.set({ queue, state }, count);
        }
      },
    }),
    webhookDeliveries: new Counter({
      name: 'webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered, skipped, retrying, failed (given up for good)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    sweptObjects: new Counter({
      name: 'sweeper_objects_removed_total',
      help: 'Stored objects and temp files the sweeper removed because no row refers to them',
      registers: [registry],
    }),
    sweepPasses: new Counter({
      name: 'sweeper_passes_total',
      help: 'Sweeper passes by outcome: ok, failed',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
