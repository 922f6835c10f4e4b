import { describe, expect, it } from 'vitest';
import { ModerationHookError, moderationEventId, moderationRequestBody, parseHookAnswer } from '../src/moderation/hook';
import { failModeDecision } from '../src/moderation/moderate';
import type { ImageResource } from '../src/resource';

describe('parseHookAnswer', () => {
  it('reads each verdict, with or without a reason', () => {
    expect(parseHookAnswer(200, '{"verdict":"allow","reason":"fine"}')).toEqual({ verdict: 'allow', reason: 'fine' });
    expect(parseHookAnswer(200, '{"verdict":"reject","reason":"nudity"}')).toEqual({ verdict: 'reject', reason: 'nudity' });
    expect(parseHookAnswer(200, '{"verdict":"review"}')).toEqual({ verdict: 'review', reason: null });
    expect(parseHookAnswer(200, '{"verdict":"allow","reason":null}')).toEqual({ verdict: 'allow', reason: null });
  });

  it('refuses any status but 200, naming it', () => {
    expect(() => parseHookAnswer(204, '')).toThrow(new ModerationHookError('Expected status 200 from the moderation hook but received 204'));
    expect(() => parseHookAnswer(500, '{"verdict":"allow"}')).toThrow(/received 500/);
  });

  it('refuses a body that is not JSON, quoting it', () => {
    expect(() => parseHookAnswer(200, 'allow')).toThrow('Expected JSON from the moderation hook but received "allow"');
  });

  it('refuses JSON that is not a verdict', () => {
    for (const body of ['{"verdict":"maybe"}', '{}', '["allow"]', '{"verdict":"allow","reason":42}', `{"verdict":"allow","reason":"${'x'.repeat(1001)}"}`]) {
      expect(() => parseHookAnswer(200, body), body).toThrow(/^Expected \{"verdict": "allow" \| "reject" \| "review"/);
    }
  });
});

describe('moderationRequestBody', () => {
  const resource = { id: 'k3J9xQ2', url: 'http://cdn.example/i/k3J9xQ2.jpg', status: 'processing' } as ImageResource;

  it('is the image resource plus the URL of the metadata-free original, typed and timestamped', () => {
    const body = JSON.parse(moderationRequestBody(resource, new Date('2026-11-21T10:00:00.000Z')));
    expect(body).toEqual({
      type: 'image.moderation.requested',
      timestamp: '2026-11-21T10:00:00.000Z',
      data: { ...resource, source_url: 'http://cdn.example/i/k3J9xQ2.jpg' },
    });
  });
});

describe('moderationEventId', () => {
  it('is stable for one job across its retries and differs for a re-created one', () => {
    const id = moderationEventId('moderation-abc', 1000);
    expect(id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(moderationEventId('moderation-abc', 1000)).toBe(id);
    expect(moderationEventId('moderation-abc', 2000)).not.toBe(id);
  });
});

describe('failModeDecision', () => {
  it('allows when open and rejects when closed, saying why', () => {
    const error = new Error('no answer within 500 ms');
    expect(failModeDecision('open', error)).toEqual({
      verdict: 'allow',
      reason: 'moderation failed (no answer within 500 ms); allowed because MODERATION_FAIL_MODE=open',
    });
    expect(failModeDecision('closed', error)).toEqual({
      verdict: 'reject',
      reason: 'moderation failed (no answer within 500 ms); rejected because MODERATION_FAIL_MODE=closed',
    });
  });

  it('keeps a long error message short', () => {
    expect(failModeDecision('open', new Error('x'.repeat(5000))).reason!.length).toBeLessThan(400);
  });
});
