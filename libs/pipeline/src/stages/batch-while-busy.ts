/**
 * Hands `flush` one batch at a time: items that arrive while a flush runs go together into the next one. With
 * small renditions encoding faster than a transaction commits, several share one transaction, while the first
 * never waits for a later one. Each item's promise settles with the flush that carried it.
 */
export function batchWhileBusy<T>(flush: (items: T[]) => Promise<void>): (item: T) => Promise<void> {
  let waiting: Array<{ item: T; resolve: () => void; reject: (error: unknown) => void }> = [];
  let flushing = false;
  const drain = async () => {
    flushing = true;
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
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
      if (!flushing) void drain();
    });
}
