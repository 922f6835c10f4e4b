import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Hands `flush` one batch at a time: the first item at once, then whatever arrived meanwhile, each batch at least
 * `spacingMs` after the previous one began. Small renditions encode faster than a transaction commits (about ten
 * queries with its announcement), so several share one; the first is never held back, and none waits longer than
 * the spacing plus the commit before it. Once the `expected`-th item has arrived nothing more will, so the last
 * batch goes without waiting. Each item's promise settles with the flush that carried it.
 */
export function batchWhileBusy<T>(
  flush: (items: T[]) => Promise<void>,
  { spacingMs = 0, expected = Number.POSITIVE_INFINITY }: { spacingMs?: number; expected?: number } = {},
): (item: T) => Promise<void> {
  let waiting: Array<{ item: T; resolve: () => void; reject: (error: unknown) => void }> = [];
  let flushing = false;
  let lastFlushAt = Number.NEGATIVE_INFINITY;
  let arrived = 0;
  let lastArrived: (() => void) | undefined;
  const drain = async () => {
    flushing = true;
    while (waiting.length > 0) {
      const early = lastFlushAt + spacingMs - Date.now();
      if (early > 0 && arrived < expected) {
        // The wait ends early when the last expected item arrives during it.
        await Promise.race([sleep(early), new Promise<void>((resolve) => (lastArrived = resolve))]);
        lastArrived = undefined;
      }
      const batch = waiting;
      waiting = [];
      lastFlushAt = Date.now();
      try {
        await flush(batch.map((entry) => entry.item));
        for (const entry of batch) entry.resolve();
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
    flushing = false;
  };
  return (item) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      arrived += 1;
      if (arrived >= expected) lastArrived?.();
      if (!flushing) void drain();
    });
}
