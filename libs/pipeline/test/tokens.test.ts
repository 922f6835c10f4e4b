import { describe, expect, it } from 'vitest';
import { deleteTokenMatches, hashDeleteToken, isWellFormedImageId, newDeleteToken, newImageId, strongEtag } from '../src/tokens';

describe('ids and tokens', () => {
  it('makes 7-character base62 ids that do not repeat', () => {
    const ids = new Set(Array.from({ length: 2000 }, () => newImageId()));
    expect(ids.size).toBe(2000);
    for (const id of ids) expect(isWellFormedImageId(id)).toBe(true);
    expect(isWellFormedImageId('abc')).toBe(false);
    expect(isWellFormedImageId('abc/def')).toBe(false);
  });

  it('matches a delete token only against its own hash', () => {
    const token = newDeleteToken();
    const stored = hashDeleteToken(token);
    expect(stored).not.toContain(token);
    expect(deleteTokenMatches(token, stored)).toBe(true);
    expect(deleteTokenMatches(newDeleteToken(), stored)).toBe(false);
    expect(deleteTokenMatches('', stored)).toBe(false);
  });

  it('makes strong, quoted ETags that follow the content', () => {
    const etag = strongEtag(Buffer.from('a'));
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
    expect(strongEtag(Buffer.from('a'))).toBe(etag);
    expect(strongEtag(Buffer.from('b'))).not.toBe(etag);
  });
});
