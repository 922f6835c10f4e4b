import { describe, expect, it } from 'vitest';
import type { StepStatus } from '@renditions/db';
import { deriveAssetStatus, reportedStages } from '../src/status';
import { STAGE_NAMES } from '../src/stages';

/** A stage row per stage of the list, every one ready unless overridden. */
function stages(overrides: Record<string, StepStatus> = {}) {
  return STAGE_NAMES.map((stage) => ({ stage, status: overrides[stage] ?? ('ready' as StepStatus) }));
}

const allowed = { moderationVerdict: 'allow' } as const;

describe('deriveAssetStatus', () => {
  it('is processing while any stage or rendition is pending or processing', () => {
    expect(deriveAssetStatus(allowed, stages({ phash: 'pending' }), [{ status: 'ready' }])).toBe('processing');
    expect(deriveAssetStatus(allowed, stages(), [{ status: 'ready' }, { status: 'processing' }])).toBe('processing');
  });

  it('ignores the root stage, which settles the image itself', () => {
    expect(deriveAssetStatus(allowed, stages({ settle: 'processing' }), [{ status: 'ready' }])).toBe('ready');
  });

  it('is ready when everything is ready', () => {
    expect(deriveAssetStatus(allowed, stages(), [{ status: 'ready' }, { status: 'ready' }])).toBe('ready');
  });

  it('is failed when a rendition or a stage that fails the image failed for good, once everything settled', () => {
    expect(deriveAssetStatus(allowed, stages(), [{ status: 'ready' }, { status: 'failed' }])).toBe('failed');
    expect(deriveAssetStatus(allowed, stages({ strip: 'failed' }), [{ status: 'ready' }])).toBe('failed');
    expect(deriveAssetStatus(allowed, stages({ render: 'failed' }), [{ status: 'ready' }])).toBe('failed');
  });

  it('stays ready when only the perceptual hash failed', () => {
    expect(deriveAssetStatus(allowed, stages({ phash: 'failed' }), [{ status: 'ready' }])).toBe('ready');
  });

  it('is rejected after a moderation reject, whatever else happened', () => {
    expect(deriveAssetStatus({ moderationVerdict: 'reject' }, stages({ strip: 'pending' }), [{ status: 'pending' }])).toBe('rejected');
  });

  it('settles as ready with a review verdict', () => {
    expect(deriveAssetStatus({ moderationVerdict: 'review' }, stages(), [{ status: 'ready' }])).toBe('ready');
  });
});

describe('reportedStages', () => {
  it('names the stages that do not report through renditions, as the contract shows them', () => {
    expect(reportedStages(stages({ phash: 'failed' }))).toEqual({ strip: 'ready', phash: 'failed', moderation: 'ready' });
  });
});
