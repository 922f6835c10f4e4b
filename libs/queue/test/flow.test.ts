import { describe, expect, it } from 'vitest';
import { assetFlow } from '../src/flow';
import type { FlowJob } from 'bullmq';

describe('assetFlow', () => {
  const sha = 'a'.repeat(64);
  const flow = assetFlow(sha);
  const descendants = (job: FlowJob): FlowJob[] => (job.children ?? []).flatMap((child) => [child, ...descendants(child)]);
  const shape = (job: FlowJob): unknown => ({ [job.queueName]: (job.children ?? []).map(shape) });

  it('is a settle parent over every stage and rendition queue, AVIF after JPEG/WebP, moderation after phash', () => {
    expect(shape(flow)).toEqual({
      settle: [{ strip: [] }, { moderation: [{ phash: [] }] }, { 'render-avif': [{ render: [] }] }],
    });
  });

  it('uses deterministic, colon-free job ids so enqueueing twice is a no-op', () => {
    const ids = [flow, ...descendants(flow)].map((job) => job.opts?.jobId);
    const again = assetFlow(sha);
    expect([again, ...descendants(again)].map((job) => job.opts?.jobId)).toEqual(ids);
    for (const id of ids) {
      expect(id).toContain(sha);
      expect(id).not.toContain(':');
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('retries with backoff and lets the parent settle when a child fails for good', () => {
    for (const child of descendants(flow)) {
      expect(child.opts?.attempts).toBeGreaterThanOrEqual(3);
      expect(child.opts?.backoff).toMatchObject({ type: 'exponential' });
      expect(child.opts?.ignoreDependencyOnFailure).toBe(true);
    }
  });

  it('gives the moderation job the configured attempts and leaves the others alone', () => {
    const tuned = assetFlow(sha, { moderationAttempts: 2 });
    const attempts = Object.fromEntries((tuned.children ?? []).map((child) => [child.queueName, child.opts?.attempts]));
    expect(attempts.moderation).toBe(2);
    const defaults = Object.fromEntries((flow.children ?? []).map((child) => [child.queueName, child.opts?.attempts]));
    expect({ ...attempts, moderation: defaults.moderation }).toEqual(defaults);
  });
});
