import PQueue from 'p-queue';

/**
 * CPU work of the worker, most urgent first: a new asset's decode (it gates everything else of that asset),
 * then JPEG/WebP encodes (what clients see first), then the full-size re-encode of a metadata-free original,
 * then AVIF (about as dear as the rest together at camera sizes). Equal kinds run in the order they arrived.
 */
const PRIORITY = { decode: 3, 'cheap-encode': 2, strip: 1, 'avif-encode': 0 } as const;

export type CpuWork = keyof typeof PRIORITY;

/**
 * One process-wide queue for every decode and encode, `concurrency` at a time (one per core: each libvips
 * encode is mostly single-threaded). Jobs of every queue submit here, so an asset's AVIFs, or an older asset's,
 * never hold a core a new upload's JPEG/WebP is waiting for, however many jobs are in flight.
 */
export class CpuScheduler {
  private readonly queue: PQueue;

  constructor(concurrency: number) {
    this.queue = new PQueue({ concurrency: Math.max(1, Math.floor(concurrency) || 1) });
  }

  run<T>(work: CpuWork, task: () => Promise<T>): Promise<T> {
    return this.queue.add(task, { priority: PRIORITY[work] });
  }
}
