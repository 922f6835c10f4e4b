import { setTimeout as sleep } from 'node:timers/promises';
import { WaitingError, type Job } from 'bullmq';

/** How often a background job waiting for a turn checks whether new work needs its slot. */
const CHECK_MS = 100;

export interface BackgroundSlots {
  /**
   * Runs a background job's work once one of the `limit` turns is free. While it waits, new work waiting in the
   * queue takes precedence: the job is handed back (BullMQ's WaitingError) and its slot fetches that work instead.
   */
  run<T>(job: Job, token: string | undefined, work: () => Promise<T>): Promise<T>;
  /** From now on a waiting job is handed back at once, so closing the worker does not wait for its turn. */
  close(): void;
}

/**
 * Keeps background work (jobs added with a priority: the backfill) to `limit` of a queue's job slots in this
 * process, so the other slots stay free for new work. BullMQ cannot be told which job a free slot fetches: while
 * only background jobs wait, it takes one. Past the limit that job waits for a turn, holding its slot, and gives
 * the slot back as soon as new work waits in the queue (`newWorkWaiting`); BullMQ fetches jobs added without a
 * priority first, and returns the handed-back job to the prioritized set with its priority, not counted as an attempt.
 */
export function backgroundSlots(limit: number, newWorkWaiting: () => Promise<boolean>): BackgroundSlots {
  let running = 0;
  let closing = false;
  // Every job waiting for a turn asks the same question: one read answers all of them for CHECK_MS.
  let lastCheck: { at: number; answer: Promise<boolean> } | undefined;
  const newWorkWaitingNow = () => {
    if (!lastCheck || Date.now() - lastCheck.at >= CHECK_MS) lastCheck = { at: Date.now(), answer: newWorkWaiting() };
    return lastCheck.answer;
  };
  return {
    async run(job, token, work) {
      while (running >= limit) {
        if (closing || (await newWorkWaitingNow())) {
          await job.moveToWait(token);
          throw new WaitingError();
        }
        await sleep(CHECK_MS);
      }
      running += 1;
      try {
        return await work();
      } finally {
        running -= 1;
      }
    },
    close() {
      closing = true;
    },
  };
}
