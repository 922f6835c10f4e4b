import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { decodeRenditionBase } from '../src/base';
import { BACKFILL_AFTER_IDLE_MS, CpuScheduler, type CpuWork } from '../src/cpu-scheduler';
import { planRenditions } from '../src/plan';
import { renderRenditions } from '../src/render';
import { readCorpus } from './corpus';

/** Occupies the scheduler's one core until `release` is called, so everything submitted meanwhile queues up. */
function occupy(cpu: CpuScheduler): { release: () => void; done: Promise<void> } {
  let release = () => {};
  const done = cpu.run('decode', () => new Promise<void>((resolve) => (release = resolve)));
  return { release: () => release(), done };
}

describe('CpuScheduler', () => {
  it('runs every kind of new work before any backfill work, and backfill kinds in the same order as new ones', async () => {
    const cpu = new CpuScheduler(1);
    const blocker = occupy(cpu);
    const order: string[] = [];
    const submit = (lane: 'new' | 'backfill', work: CpuWork) =>
      (lane === 'new' ? cpu : cpu.backfill).run(work, async () => void order.push(`${lane} ${work}`));
    const all = [
      submit('backfill', 'decode'),
      submit('backfill', 'avif-encode'),
      submit('backfill', 'cheap-encode'),
      submit('new', 'avif-encode'),
      submit('new', 'cheap-encode'),
      submit('new', 'strip'),
      submit('new', 'decode'),
    ];
    blocker.release();
    await Promise.all([blocker.done, ...all]);
    expect(order).toEqual([
      'new decode',
      'new cheap-encode',
      'new strip',
      'new avif-encode',
      'backfill decode',
      'backfill cheap-encode',
      'backfill avif-encode',
    ]);
  });

  it('keeps a core free for new work between two of its tasks, and gives it to backfill once new work is idle', async () => {
    const cpu = new CpuScheduler(1);
    const order: string[] = [];
    // A job's decode, then (after a database round trip) its encode: the core is free for a moment in between.
    const job = cpu
      .run('decode', async () => void order.push('new decode'))
      .then(() => sleep(10))
      .then(() => cpu.run('cheap-encode', async () => void order.push('new encode')));
    const backfill = Array.from({ length: 3 }, (_, i) => cpu.backfill.run('decode', async () => void order.push(`backfill ${i}`)));
    const idleSince = await job.then(() => performance.now());
    await Promise.all(backfill);
    expect(order).toEqual(['new decode', 'new encode', 'backfill 0', 'backfill 1', 'backfill 2']);
    expect(performance.now() - idleSince).toBeGreaterThanOrEqual(BACKFILL_AFTER_IDLE_MS - 5);
  });

  it('shares the cores with its backfill lane: never more tasks at once than the concurrency', async () => {
    const cpu = new CpuScheduler(2);
    let running = 0;
    let peak = 0;
    const task = async () => {
      running += 1;
      peak = Math.max(peak, running);
      await sleep(5);
      running -= 1;
    };
    await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? cpu : cpu.backfill).run('cheap-encode', task)));
    expect(peak).toBe(2);
    expect(cpu.backfill.backfill).toBe(cpu.backfill);
  });

  it("runs a new upload's encodes before those of a backfill job that started first", async () => {
    const photo = readCorpus('photos/DSCN0010.jpg');
    const base = await decodeRenditionBase(photo);
    const specs = planRenditions(base.source.width, base.source.height);
    const cpu = new CpuScheduler(1);
    const finished: string[] = [];
    const record = (job: string) => async () => void finished.push(job);

    const backfill = renderRenditions(base, specs, record('backfill'), { scheduler: cpu.backfill });
    // The backfill's first encode is on the core by now; the upload arrives while the other 17 wait.
    await sleep(1);
    const upload = renderRenditions(base, specs, record('new'), { scheduler: cpu });
    await Promise.all([backfill, upload]);

    expect(finished).toHaveLength(36);
    // Only what was already running when the upload's encodes arrived may finish before them.
    const lastNew = finished.lastIndexOf('new');
    const backfillBefore = finished.slice(0, lastNew).filter((job) => job === 'backfill').length;
    expect(backfillBefore).toBeLessThanOrEqual(1);
    expect(finished.slice(lastNew + 1)).toEqual(Array.from({ length: 18 - backfillBefore }, () => 'backfill'));
  });
});
