import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '@renditions/errors';
import { parseReprocessFilter } from '../src/reprocess-filter';

describe('parseReprocessFilter', () => {
  it('selects everything without filters', () => {
    expect(parseReprocessFilter({})).toEqual({ sizes: undefined, formats: undefined, since: undefined, until: undefined });
  });

  it('reads comma lists of sizes and formats, and ISO 8601 dates (a bare date is midnight UTC)', () => {
    expect(parseReprocessFilter({ size: 'h, l,h', format: 'avif', since: '2025-01-31', until: '2025-02-01T12:30:00+02:00' })).toEqual({
      sizes: ['h', 'l'],
      formats: ['avif'],
      since: new Date('2025-01-31T00:00:00Z'),
      until: new Date('2025-02-01T10:30:00Z'),
    });
  });

  it('refuses what it does not know, naming the option, what it expects and what it received', () => {
    const refusal = (options: Parameters<typeof parseReprocessFilter>[0]) => {
      try {
        parseReprocessFilter(options);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidRequestError);
        return (error as Error).message;
      }
      throw new Error('expected a refusal');
    };
    expect(refusal({ format: 'png' })).toBe('Expected --format to be a comma-separated list of webp, avif, jpg but received "png"');
    expect(refusal({ size: 'm,xl' })).toBe('Expected --size to be a comma-separated list of s, b, t, m, l, h but received "m,xl"');
    expect(refusal({ size: '' })).toBe('Expected --size to be a comma-separated list of s, b, t, m, l, h but received ""');
    expect(refusal({ since: 'yesterday' })).toBe(
      'Expected --since to be an ISO 8601 date such as 2025-01-31 or 2025-01-31T12:00:00Z but received "yesterday"',
    );
    expect(refusal({ until: '2025-13-45' })).toContain('Expected --until to be an ISO 8601 date');
    expect(refusal({ since: '2025-02-01', until: '2025-01-01' })).toBe('Expected --since before --until but received 2025-02-01 and 2025-01-01');
  });
});
