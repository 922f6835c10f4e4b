import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface EventLoopDelay {
  p99Ms: number;
  maxMs: number;
  samples: number;
}

/**
 * The event-loop delay while `work` runs, sampled the way prom-client's nodejs_eventloop_lag_* gauges sample it
 * (monitorEventLoopDelay, 10 ms resolution): what every other request on the thread would wait.
 */
export async function eventLoopDelayDuring<T>(work: () => Promise<T>): Promise<{ outcome: T | Error; delay: EventLoopDelay }> {
  const resolutionMs = 10;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  // The histogram records the gap between two timer ticks: a stall before its first tick, or one not yet
  // followed by a tick when it is disabled, would go unrecorded.
  await sleep(3 * resolutionMs);
  const outcome = await work().catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  await sleep(3 * resolutionMs);
  histogram.disable();
  return {
    outcome,
    delay: { p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6, samples: histogram.count },
  };
}

export interface MemoryGrowth {
  /** Peak of process.memoryUsage().arrayBuffers (every Buffer's backing store) above the start, in bytes. */
  arrayBuffers: number;
  /** Peak RSS above the start, in bytes: includes libvips' own decode memory, so only informative. */
  rss: number;
}

/** Peak memory growth while `work` runs, sampled every few milliseconds after a full GC. */
export async function memoryGrowthDuring(work: () => Promise<unknown>): Promise<MemoryGrowth> {
  await collectGarbage();
  const start = process.memoryUsage();
  let peak = { arrayBuffers: start.arrayBuffers, rss: start.rss };
  const sample = () => {
    const now = process.memoryUsage();
    peak = { arrayBuffers: Math.max(peak.arrayBuffers, now.arrayBuffers), rss: Math.max(peak.rss, now.rss) };
  };
  const sampler = setInterval(sample, 2);
  try {
    await work();
  } finally {
    clearInterval(sampler);
    sample();
  }
  return { arrayBuffers: peak.arrayBuffers - start.arrayBuffers, rss: peak.rss - start.rss };
}

/**
 * Full GCs so earlier tests' garbage Buffers do not blur the baseline. Tests run without --expose-gc;
 * V8 lets a running process turn the flag on and hands `gc` to a fresh context. Backing stores are freed
 * after the GC that finds them dead, hence a pause and a second GC.
 */
async function collectGarbage(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  await sleep(20);
  gc();
}
