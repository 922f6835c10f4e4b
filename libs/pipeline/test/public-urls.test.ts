import { describe, expect, it } from 'vitest';
import { RENDITION_FORMATS, RENDITION_SIZES } from '@renditions/imaging';
import { imageCachedCopies, originalCachedCopies, renditionCachedCopies } from '../src/public-urls';

const urlsOf = (copies: Array<{ url: string; accept?: string }>) => copies.filter((copy) => !copy.accept).map((copy) => copy.url);

describe('imageCachedCopies', () => {
  it('lists the original, its other spelling, the 18 renditions and their 6 Imgur-style names', () => {
    const urls = urlsOf(imageCachedCopies('https://img.example', 'k3J9xQ2', 'jpg'));
    expect(urls).toHaveLength(26);
    expect(urls.slice(0, 2)).toEqual(['https://img.example/i/k3J9xQ2.jpg', 'https://img.example/i/k3J9xQ2.jpeg']);
    expect(urls).toContain('https://img.example/i/k3J9xQ2/s.avif');
    expect(urls).toContain('https://img.example/i/k3J9xQ2m.jpg');
    expect(new Set(urls).size).toBe(26);
  });

  it("lists each size's negotiated URL once per format class a CDN keys it by", () => {
    const negotiated = imageCachedCopies('https://img.example', 'k3J9xQ2', 'jpg').filter((copy) => copy.accept);
    expect(negotiated).toHaveLength(6 * 3);
    expect(negotiated.filter((copy) => copy.url === 'https://img.example/i/k3J9xQ2/m')).toEqual([
      { url: 'https://img.example/i/k3J9xQ2/m', accept: 'image/avif' },
      { url: 'https://img.example/i/k3J9xQ2/m', accept: 'image/webp' },
      { url: 'https://img.example/i/k3J9xQ2/m', accept: '*/*' },
    ]);
  });

  it('has no other spelling for a format that has none', () => {
    expect(urlsOf(imageCachedCopies('https://img.example', 'k3J9xQ2', 'png'))).toHaveLength(25);
  });

  it('covers every spelling when the extension is no longer known (the asset row is gone)', () => {
    const urls = urlsOf(imageCachedCopies('https://img.example', 'k3J9xQ2'));
    for (const ext of ['jpg', 'jpeg', 'png', 'gif', 'webp', 'avif', 'tif', 'tiff']) {
      expect(urls).toContain(`https://img.example/i/k3J9xQ2.${ext}`);
    }
    expect(urls).toHaveLength(8 + 18 + 6);
  });
});

describe('renditionCachedCopies', () => {
  it("lists the rendition's URL, Imgur's name for a JPEG, and the negotiated URL of every format class that takes it", () => {
    expect(renditionCachedCopies('https://img.example', 'k3J9xQ2', 'm', 'jpg')).toEqual([
      { url: 'https://img.example/i/k3J9xQ2/m.jpg' },
      { url: 'https://img.example/i/k3J9xQ2m.jpg' },
      { url: 'https://img.example/i/k3J9xQ2/m', accept: 'image/avif' },
      { url: 'https://img.example/i/k3J9xQ2/m', accept: 'image/webp' },
      { url: 'https://img.example/i/k3J9xQ2/m', accept: '*/*' },
    ]);
    // The CDN asks the origin for the AVIF class with `Accept: image/avif`, which a WebP never answers.
    expect(renditionCachedCopies('https://img.example', 'k3J9xQ2', 's', 'webp')).toEqual([
      { url: 'https://img.example/i/k3J9xQ2/s.webp' },
      { url: 'https://img.example/i/k3J9xQ2/s', accept: 'image/webp' },
    ]);
    expect(renditionCachedCopies('https://img.example', 'k3J9xQ2', 'h', 'avif')).toEqual([
      { url: 'https://img.example/i/k3J9xQ2/h.avif' },
      { url: 'https://img.example/i/k3J9xQ2/h', accept: 'image/avif' },
    ]);
  });

  it('together over the 18 renditions, covers every rendition copy imageCachedCopies lists', () => {
    const key = (copy: { url: string; accept?: string }) => `${copy.url} ${copy.accept ?? ''}`;
    const all = new Set(imageCachedCopies('https://img.example', 'k3J9xQ2', 'png').map(key));
    const ofRenditions = new Set(
      RENDITION_SIZES.flatMap((size) => RENDITION_FORMATS.flatMap((format) => renditionCachedCopies('https://img.example', 'k3J9xQ2', size, format))).map(key),
    );
    const ofOriginal = originalCachedCopies('https://img.example', 'k3J9xQ2', 'png').map(key);
    expect(ofOriginal).toEqual(['https://img.example/i/k3J9xQ2.png ']);
    expect(new Set([...ofOriginal, ...ofRenditions])).toEqual(all);
  });
});
