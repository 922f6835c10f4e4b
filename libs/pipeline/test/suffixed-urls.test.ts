import { describe, expect, it } from 'vitest';
import { parseSuffixedName } from '../src/suffixed-urls';

describe('parseSuffixedName', () => {
  it('reads an id followed by a size letter', () => {
    expect(parseSuffixedName('k3J9xQ2m')).toEqual({ id: 'k3J9xQ2', size: 'm' });
    for (const size of ['s', 'b', 't', 'm', 'l', 'h']) expect(parseSuffixedName(`0000000${size}`)).toEqual({ id: '0000000', size });
  });

  it('never takes a 7-character name for one, even when it ends in a size letter: that is an id', () => {
    expect(parseSuffixedName('k3J9xQm')).toBeUndefined();
    expect(parseSuffixedName('abcdefs')).toBeUndefined();
  });

  it('refuses other lengths, letters that are no size, and characters outside the id alphabet', () => {
    for (const name of ['', 'm', 'k3J9xQ2mm', 'k3J9xQ2x', 'k3J9xQ2M', 'k3J9-Q2m', 'k3J9xQ\u0000m', 'k3J9xQ2\u0000', 'k3J9xQ2m\n', 'k3J9xQ😀m']) {
      expect(parseSuffixedName(name), JSON.stringify(name)).toBeUndefined();
    }
  });
});
