import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@renditions/config';
import { createLogger, createMetrics, type Metrics } from '@renditions/observability';
import { createServices, type ServicesHandle } from '@renditions/pipeline';
import { stageJobId } from '@renditions/queue';
import { startWorker, type RunningWorker } from '@renditions/worker';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload, waitForImage, type UploadResponse } from '../support/http';
import { runScript } from '../support/run-script';

const KNOWN = 'strip, phash, moderation, render, render-avif, settle, cleanup, webhook';

/** Jobs each queue's worker completed, from the worker's own job_duration_seconds histogram. */
async function completedPerQueue(metrics: Metrics): Promise<Record<string, number>> {
  const { values } = await metrics.jobDuration.get();
  return Object.fromEntries(
    values.filter((value) => value.metricName === 'job_duration_seconds_count').map((value) => [value.labels.queue, value.value]),
  );
}

describe('WORKER_QUEUES: dedicated workers', () => {
  let ctx: TestContext;
  const handles: ServicesHandle[] = [];
  const workers: RunningWorker[] = [];

  /** A worker with its own configuration (and connections), as a process on another host would have. */
  function startDedicatedWorker(queues: string): { worker: RunningWorker; metrics: Metrics } {
    const services = createServices(loadConfig({ ...ctx.env, WORKER_QUEUES: queues }), createLogger({ level: 'silent', name: queues }));
    services.config.publicBaseUrl = ctx.url;
    handles.push(services);
    const metrics = createMetrics();
    const worker = startWorker(services, { metrics });
    workers.push(worker);
    return { worker, metrics };
  }

  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
  });
  afterAll(async () => {
    await Promise.allSettled(workers.map((worker) => worker.stop()));
    await Promise.allSettled(handles.map((services) => services.close()));
    await ctx?.stop();
  });

  it('an AVIF-only worker takes render-avif jobs only, runs no reconciler, and the image settles once the rest is served', async () => {
    const avif = startDedicatedWorker('render-avif');
    expect(avif.worker.queues).toEqual(['render-avif']);

    const image = (await (await upload(ctx.url, readCorpus('photos/DSCN0010.jpg'))).json()) as UploadResponse;
    await sleep(1500);
    const counts = await ctx.services.queues.jobCounts();
    for (const queue of ['strip', 'phash', 'render']) expect(counts[queue], queue).toMatchObject({ waiting: 1, active: 0 });
    expect(counts['render-avif']).toMatchObject({ 'waiting-children': 1, waiting: 0, active: 0 });
    expect(await completedPerQueue(avif.metrics)).toEqual({});

    // Redis loses the flow. Only a worker serving settle reconciles: the AVIF-only one leaves it lost.
    const [asset] = await ctx.services.db.execute<{ id: string; flow_run: number }>(
      sql`select a.id, a.flow_run from images i join assets a on a.id = i.asset_id where i.id = ${image.id}`,
    );
    const run = { assetId: asset!.id, run: asset!.flow_run };
    await ctx.services.queues.dropAssetFlow(run);
    await ctx.services.db.execute(sql`update assets set flow_enqueued_at = null where id = ${run.assetId}`);
    // Several of the context's reconcile intervals (RECONCILE_INTERVAL_MS=300).
    await sleep(1500);
    expect(await ctx.services.queues.queues.get('settle')!.getJobState(stageJobId('settle', run))).toBe('unknown');

    const rest = startDedicatedWorker('strip,phash,moderation,render,settle,cleanup,webhook');
    const ready = await waitForImage(ctx.url, image.id);
    expect(ready.status).toBe('ready');
    expect(ready.renditions.filter((rendition) => rendition.status === 'ready')).toHaveLength(18);

    expect(await completedPerQueue(avif.metrics)).toEqual({ 'render-avif': 1 });
    // The image reads ready once its last rendition is recorded; settle stores that a moment later.
    await expect.poll(async () => (await completedPerQueue(rest.metrics)).settle, { timeout: 10_000 }).toBe(1);
    const byRest = await completedPerQueue(rest.metrics);
    expect(byRest).not.toHaveProperty('render-avif');
    for (const queue of ['strip', 'phash', 'moderation', 'render', 'settle']) expect(byRest[queue], queue).toBe(1);
  });

  it('a worker given an unknown queue name refuses to start, naming it and listing the known ones', async () => {
    // In process: before anything connects.
    const services = { ...ctx.services, config: loadConfig({ ...ctx.env, WORKER_QUEUES: 'render,avif' }) };
    expect(() => startWorker(services)).toThrow(ConfigError);
    expect(() => startWorker(services)).toThrow(`WORKER_QUEUES: unknown queue "avif"; expected a comma-separated list of ${KNOWN}`);

    const result = await runScript('apps/worker/src/main.ts', [], { ...ctx.env, WORKER_QUEUES: 'render,avif', WORKER_METRICS_PORT: '0' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`WORKER_QUEUES: unknown queue "avif"; expected a comma-separated list of ${KNOWN}`);
  });
});
