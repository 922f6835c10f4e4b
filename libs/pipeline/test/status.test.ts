import { describe, expect, it } from 'vitest';
import { deriveAssetStatus } from '../src/status';

const settledStages = {
  stripStatus: 'ready',
  phashStatus: 'ready',
  moderationStatus: 'ready',
  moderationVerdict: 'allow',
} as const;

describe('deriveAssetStatus', () => {
  it('is processing while any stage or rendition is pending or processing', () => {
    expect(deriveAssetStatus({ ...settledStages, phashStatus: 'pending' }, [{ status: 'ready' }])).toBe('processing');
    expect(deriveAssetStatus(settledStages, [{ status: 'ready' }, { status: 'processing' }])).toBe('processing');
  });

  it('is ready when everything is ready', () => {
    expect(deriveAssetStatus(settledStages, [{ status: 'ready' }, { status: 'ready' }])).toBe('ready');
  });

  it('is failed when a rendition or the strip failed for good, once everything settled', () => {
    expect(deriveAssetStatus(settledStages, [{ status: 'ready' }, { status: 'failed' }])).toBe('failed');
    expect(deriveAssetStatus({ ...settledStages, stripStatus: 'failed' }, [{ status: 'ready' }])).toBe('failed');
  });

  it('stays ready when only the perceptual hash failed', () => {
    expect(deriveAssetStatus({ ...settledStages, phashStatus: 'failed' }, [{ status: 'ready' }])).toBe('ready');
  });

  it('is rejected after a moderation reject, whatever else happened', () => {
    expect(deriveAssetStatus({ ...settledStages, moderationVerdict: 'reject' }, [{ status: 'pending' }])).toBe('rejected');
  });

  it('settles as ready with a review verdict', () => {
    expect(deriveAssetStatus({ ...settledStages, moderationVerdict: 'review' }, [{ status: 'ready' }])).toBe('ready');
  });
});
