import { parseSamples, scrape } from './prometheus';

/** What one worker process did, per queue, from its own /metrics (WORKER_METRICS_PORT). */
export interface WorkerJobs {
  /** Jobs completed: the count of job_duration_seconds. */
  completed: Record<string, number>;
  /** Failed attempts, final or to be retried: job_failures_total. */
  failed: Record<string, number>;
}

export async function workerJobs(metricsUrl: string): Promise<WorkerJobs> {
  const samples = parseSamples(await scrape(metricsUrl));
  const perQueue = (name: string) => {
    const byQueue: Record<string, number> = {};
    for (const sample of samples.filter((candidate) => candidate.name === name)) {
      const queue = sample.labels.queue!;
      byQueue[queue] = (byQueue[queue] ?? 0) + sample.value;
    }
    return byQueue;
  };
  return { completed: perQueue('job_duration_seconds_count'), failed: perQueue('job_failures_total') };
}
