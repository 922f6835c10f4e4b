import { describe, expect, it } from 'vitest';
import { assetFlow } from '../src/flow';
import { CHILD_QUEUES } from '../src/names';

describe('assetFlow', () => {
  const sha = 'a'.repeat(64);
  const flow = assetFlow(sha);

  it('is a settle parent over one child per stage and rendition queue', () => {
    expect(flow.queueName).toBe('settle');
    expect(flow.children?.map((child) => child.queueName)).toEqual([...CHILD_QUEUES]);
  });

  it('uses deterministic, colon-free job ids so enqueueing twice is a no-op', () => {
    const ids = [flow, ...(flow.children ?? [])].map((job) => job.opts?.jobId);
    const again = assetFlow(sha);
    expect([again, ...(again.children ?? [])].map((job) => job.opts?.jobId)).toEqual(ids);
    for (const id of ids) {
      expect(id).toContain(sha);
      expect(id).not.toContain(':');
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('retries with backoff and lets the parent settle when a child fails for good', () => {
    for (const child of flow.children ?? []) {
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
