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
    const add = batchWhileBusy<number>(async (items) => void flushedAt.push({ items, at: Date.now() - start }), { spacingMs: 80 });
    const first = add(1);
    await first;
    const later = [add(2), add(3)];
    await Promise.all(later);
    expect(flushedAt.map((flush) => flush.items)).toEqual([[1], [2, 3]]);
    expect(flushedAt[0]!.at).toBeLessThan(40);
    expect(flushedAt[1]!.at).toBeGreaterThanOrEqual(75);
  });

  it('sends the batch holding the last expected item without waiting out the spacing', async () => {
    const flushedAt: number[] = [];
    const start = Date.now();
    const add = batchWhileBusy<number>(async () => void flushedAt.push(Date.now() - start), { spacingMs: 500, expected: 2 });
    await add(1);
    await add(2);
    expect(flushedAt).toHaveLength(2);
    expect(flushedAt[1]!).toBeLessThan(250);
  });

  it('cuts the wait short when the last expected item arrives during it', async () => {
    const flushed: number[][] = [];
    const start = Date.now();
    const add = batchWhileBusy<number>(async (items) => void flushed.push(items), { spacingMs: 500, expected: 3 });
    await add(1);
    const second = add(2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await Promise.all([second, add(3)]);
    expect(flushed).toEqual([[1], [2, 3]]);
    expect(Date.now() - start).toBeLessThan(300);
  });
});
