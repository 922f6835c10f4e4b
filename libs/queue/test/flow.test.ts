import { describe, expect, it } from 'vitest';
import type { FlowJob } from 'bullmq';
import { assetFlow, planFlow, type FlowStage } from '../src/flow';

const STAGES: FlowStage[] = [
  { name: 'strip', attempts: 5, after: [] },
  { name: 'phash', attempts: 5, after: [] },
  { name: 'moderation', attempts: 2, after: ['phash'] },
  { name: 'render', attempts: 5, after: [] },
  { name: 'render-avif', attempts: 5, after: ['render'] },
  { name: 'settle', attempts: 10, after: [] },
];

describe('planFlow', () => {
  it('puts every stage nobody waits for under the root', () => {
    expect(planFlow(STAGES, 'settle').after).toEqual(['strip', 'moderation', 'render-avif']);
  });

  it('refuses shapes BullMQ cannot run, naming the stage', () => {
    const twoParents = [...STAGES.slice(0, 5), { name: 'extra', attempts: 1, after: ['phash'] }, STAGES[5]!];
    expect(() => planFlow(twoParents, 'settle')).toThrow('Stage "phash" is waited for by both "moderation" and "extra"');
    expect(() => planFlow([...STAGES, { name: 'x', attempts: 1, after: ['nope'] }], 'settle')).toThrow('"nope", which is not a stage');
    const cycle = [{ name: 'a', attempts: 1, after: ['b'] }, { name: 'b', attempts: 1, after: ['a'] }, STAGES[5]!];
    expect(() => planFlow(cycle, 'settle')).toThrow('cycle');
    expect(() => planFlow(STAGES, 'missing')).toThrow('root stage "missing"');
  });
});

describe('assetFlow', () => {
  const root = planFlow(STAGES, 'settle');
  const flow = assetFlow(root, STAGES, { assetId: 'abc123', run: 1 });
  const descendants = (job: FlowJob): FlowJob[] => (job.children ?? []).flatMap((child) => [child, ...descendants(child)]);
  const shape = (job: FlowJob): unknown => ({ [job.queueName]: (job.children ?? []).map(shape) });

  it('is the settle root over every stage, AVIF after JPEG/WebP, moderation after phash', () => {
    expect(shape(flow)).toEqual({
      settle: [{ strip: [] }, { moderation: [{ phash: [] }] }, { 'render-avif': [{ render: [] }] }],
    });
  });

  it('uses deterministic, colon-free job ids per generation and run, so enqueueing twice is a no-op', () => {
    const ids = [flow, ...descendants(flow)].map((job) => job.opts?.jobId);
    const again = assetFlow(root, STAGES, { assetId: 'abc123', run: 1 });
    expect([again, ...descendants(again)].map((job) => job.opts?.jobId)).toEqual(ids);
    for (const id of ids) {
      expect(id).toMatch(/abc123-r1$/);
      expect(id).not.toContain(':');
    }
    expect(new Set(ids).size).toBe(ids.length);
    const nextRun = assetFlow(root, STAGES, { assetId: 'abc123', run: 2 });
    expect(nextRun.opts?.jobId).not.toBe(flow.opts?.jobId);
  });

  it('retries with backoff and lets the parent settle when a child fails for good', () => {
    for (const child of descendants(flow)) {
      expect(child.opts?.attempts).toBeGreaterThanOrEqual(2);
      expect(child.opts?.backoff).toMatchObject({ type: 'exponential' });
      expect(child.opts?.ignoreDependencyOnFailure).toBe(true);
    }
  });

  it('gives each stage its own attempts', () => {
    const attempts = Object.fromEntries(descendants(flow).map((job) => [job.queueName, job.opts?.attempts]));
    expect(attempts).toMatchObject({ moderation: 2, render: 5 });
    expect(flow.opts?.attempts).toBe(10);
  });
});
