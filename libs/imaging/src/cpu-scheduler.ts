/**
 * CPU work of the worker, most urgent first: a new asset's decode (it gates everything else of that asset),
 * then JPEG/WebP encodes (what clients see first), then the full-size re-encode of a metadata-free original,
 * then AVIF (about as dear as the rest together at camera sizes). Equal kinds run in the order they arrived.
 */
const PRIORITY = { decode: 3, 'cheap-encode': 2, strip: 1, 'avif-encode': 0 } as const;

export type CpuWork = keyof typeof PRIORITY;

/**
 * How long the cores must have been free of new work before a backfill task may start: long enough for a job to
 * queue its next decode or encode once its last one ended (a continuation, a database round trip). A backfill task
 * that took the core in between would make the new work wait for it, since running work is never interrupted.
 */
export const BACKFILL_AFTER_IDLE_MS = 50;

type Lane = 'new' | 'backfill';

interface Waiting {
  lane: Lane;
  priority: number;
  /** Arrival order: equal priorities run first come, first served. */
  order: number;
  start(): void;
}

/** New work before backfill, then by kind, then first come, first served. */
function comesFirst(a: Waiting, b: Waiting): boolean {
  if (a.lane !== b.lane) return a.lane === 'new';
  return a.priority > b.priority || (a.priority === b.priority && a.order < b.order);
}

/** The cores a scheduler and its backfill lane share: what runs, what waits, and when new work last ran. */
class Cores {
  private running = 0;
  /** Tasks of new work waiting or running: while there is one, no backfill task starts. */
  private newWork = 0;
  private backfillFrom = 0;
  private readonly waiting: Waiting[] = [];
  private arrivals = 0;
  private wake?: NodeJS.Timeout;

  constructor(private readonly concurrency: number) {}

  submit<T>(lane: Lane, priority: number, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (lane === 'new') this.newWork += 1;
      const start = () => {
        this.running += 1;
        let running: Promise<T>;
        try {
          running = task();
        } catch (error) {
          running = Promise.reject(error);
        }
        running.then(resolve, reject).finally(() => this.finished(lane));
      };
      this.waiting.push({ lane, priority, order: this.arrivals++, start });
      this.startWhatMay();
    });
  }

  private finished(lane: Lane): void {
    this.running -= 1;
    if (lane === 'new') {
      this.newWork -= 1;
      this.backfillFrom = Date.now() + BACKFILL_AFTER_IDLE_MS;
    }
    this.startWhatMay();
  }

  private startWhatMay(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const next = this.waiting.reduce((best, entry) => (comesFirst(entry, best) ? entry : best));
      if (next.lane === 'backfill' && !this.backfillMayStart()) return;
      this.waiting.splice(this.waiting.indexOf(next), 1);
      next.start();
    }
  }

  private backfillMayStart(): boolean {
    if (this.newWork > 0) return false;
    const wait = this.backfillFrom - Date.now();
    if (wait <= 0) return true;
    this.wake ??= setTimeout(() => {
      this.wake = undefined;
      this.startWhatMay();
    }, wait).unref();
    return false;
  }
}

/**
 * One process-wide queue for every decode and encode, `concurrency` at a time (one per core: each libvips
 * encode is mostly single-threaded). Jobs of every queue submit here, so an asset's AVIFs, or an older asset's,
 * never hold a core a new upload's JPEG/WebP is waiting for, however many jobs are in flight. Running work is
 * never interrupted: new work waits at most for the tasks on the cores when it arrives.
 */
export class CpuScheduler {
  /**
   * The same cores for backfill work (`npm run reprocess`), its kinds in the same order among themselves. A backfill
   * task starts only while no new work waits or runs, and not within BACKFILL_AFTER_IDLE_MS of the last: a BullMQ
   * priority alone leaves a backfill's decodes and encodes level with a new upload's once its jobs have started.
   */
  readonly backfill: CpuScheduler;
  private readonly cores: Cores;
  private readonly lane: Lane;

  /**
   * @param concurrency decodes and encodes at once
   * @param sharing only for `backfill`: the scheduler whose cores it shares
   */
  constructor(concurrency: number, sharing?: CpuScheduler) {
    this.cores = sharing?.cores ?? new Cores(Math.max(1, Math.floor(concurrency) || 1));
    this.lane = sharing ? 'backfill' : 'new';
    this.backfill = sharing ? this : new CpuScheduler(concurrency, this);
  }

  run<T>(work: CpuWork, task: () => Promise<T>): Promise<T> {
    return this.cores.submit(this.lane, PRIORITY[work], task);
  }
}
