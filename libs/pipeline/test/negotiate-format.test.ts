import { describe, expect, it } from 'vitest';
import { negotiateFormats } from '../src/negotiate-format';

describe('negotiateFormats', () => {
  it.each([
    // What browsers send for an <img> today.
    ['Chromium', 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', ['avif', 'webp', 'jpg']],
    ['Firefox', 'image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5', ['avif', 'webp', 'jpg']],
    ['Safari 16+', 'image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5', ['avif', 'webp', 'jpg']],
    ['an older Safari', 'image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5', ['webp', 'jpg']],
    ['curl', '*/*', ['jpg']],
  ])('gives %s the best format it names', (_client, accept, formats) => {
    expect(negotiateFormats(accept)).toEqual(formats);
  });

  it('gives JPEG to a client that names no format: no header, an empty one, or only wildcards', () => {
    for (const accept of [undefined, '', '*/*', 'image/*', 'image/*,*/*;q=0.8', 'image/png,image/jpeg', 'text/html']) {
      expect(negotiateFormats(accept), String(accept)).toEqual(['jpg']);
    }
  });

  it('ranks by our preference (AVIF, WebP, JPEG), not by the weights the client gives', () => {
    expect(negotiateFormats('image/webp;q=1,image/avif;q=0.1')).toEqual(['avif', 'webp', 'jpg']);
    expect(negotiateFormats('image/webp')).toEqual(['webp', 'jpg']);
    expect(negotiateFormats('image/avif')).toEqual(['avif', 'jpg']);
  });

  it('treats q=0 as a refusal, even when the format is named again with a weight', () => {
    expect(negotiateFormats('image/avif;q=0,image/webp,*/*')).toEqual(['webp', 'jpg']);
    expect(negotiateFormats('image/avif;q=0.000, image/webp;q=0')).toEqual(['jpg']);
    expect(negotiateFormats('image/avif, image/avif;q=0')).toEqual(['jpg']);
    expect(negotiateFormats('image/avif;q=0.001')).toEqual(['avif', 'jpg']);
  });

  it('reads media ranges as HTTP says: case-insensitive, with spaces and other parameters', () => {
    expect(negotiateFormats('IMAGE/AVIF ; Q=0.9 , Image/WebP;level=1')).toEqual(['avif', 'webp', 'jpg']);
    expect(negotiateFormats(' image/webp ;q=0.5')).toEqual(['webp', 'jpg']);
  });

  it('ignores a range with a malformed weight rather than guessing it', () => {
    for (const accept of ['image/avif;q=abc', 'image/avif;q=2', 'image/avif;q=0.5000', 'image/avif;q=-1', 'image/avif;q=']) {
      expect(negotiateFormats(accept), accept).toEqual(['jpg']);
    }
  });

  it('does not take a look-alike type for a format', () => {
    expect(negotiateFormats('image/avif-sequence,image/webpx,application/avif')).toEqual(['jpg']);
  });
});
