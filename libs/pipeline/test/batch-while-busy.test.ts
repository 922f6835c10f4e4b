import { describe, expect, it } from 'vitest';
import { batchWhileBusy } from '../src/stages/batch-while-busy';

describe('batchWhileBusy', () => {
  it('flushes the first item at once and joins those that arrive meanwhile into the next flush', async () => {
    const flushed: number[][] = [];
    let release!: () => void;
    const firstFlush = new Promise<void>((resolve) => (release = resolve));
    const add = batchWhileBusy<number>(async (items) => {
      flushed.push(items);
      if (flushed.length === 1) await firstFlush;
    });
    const first = add(1);
    const later = [add(2), add(3), add(4)];
    expect(flushed).toEqual([[1]]);
    release();
    await Promise.all([first, ...later]);
    expect(flushed).toEqual([[1], [2, 3, 4]]);
    await add(5);
    expect(flushed).toEqual([[1], [2, 3, 4], [5]]);
  });

  it('rejects the items of a failed flush only, and keeps flushing the ones after it', async () => {
    const failure = new Error('commit refused');
    let calls = 0;
    const add = batchWhileBusy<string>(async () => {
      calls += 1;
      if (calls === 1) throw failure;
    });
    const results = await Promise.allSettled([add('a'), add('b')]);
    expect(results[0]).toEqual({ status: 'rejected', reason: failure });
    expect(results[1]).toEqual({ status: 'fulfilled', value: undefined });
  });
});

describe('batchWhileBusy with a spacing', () => {
  it('flushes the first item at once and the next batch no sooner than the spacing after it', async () => {
    const flushedAt: Array<{ items: number[]; at: number }> = [];
    const start = Date.now();
    const add = batchWhileBusy<number>(async (items) => void flushedAt.push({ items, at: Date.now() - start }), 80);
    const first = add(1);
    await first;
    const later = [add(2), add(3)];
    await Promise.all(later);
    expect(flushedAt.map((flush) => flush.items)).toEqual([[1], [2, 3]]);
    expect(flushedAt[0]!.at).toBeLessThan(40);
    expect(flushedAt[1]!.at).toBeGreaterThanOrEqual(75);
  });
});
