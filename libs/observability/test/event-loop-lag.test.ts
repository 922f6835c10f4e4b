import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/metrics';

/**
 * Issue 8 asks for an event-loop lag metric: prom-client's default metrics already export one, from a
 * perf_hooks monitorEventLoopDelay histogram (10 ms resolution, reset at every scrape, so each scrape reports
 * the interval since the last). It is not duplicated; this pins that it stays exported.
 * Note the values include the 10 ms sampling interval: an idle loop reports ~0.010 s.
 */
describe('event-loop lag metric', () => {
  it('every registry exports nodejs_eventloop_lag_p99_seconds and its siblings', async () => {
    const { registry } = createMetrics();
    const text = await registry.metrics();
    for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p50_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds']) {
      expect(text).toMatch(new RegExp(`^${name} [0-9.e-]+$`, 'm'));
    }
  });
});
