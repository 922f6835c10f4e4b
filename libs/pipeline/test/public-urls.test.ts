import { describe, expect, it } from 'vitest';
import { imagePublicUrls } from '../src/public-urls';

describe('imagePublicUrls', () => {
  it('lists the original, its other spelling and the 18 renditions', () => {
    const urls = imagePublicUrls('https://img.example', 'k3J9xQ2', 'jpg');
    expect(urls).toHaveLength(20);
    expect(urls.slice(0, 2)).toEqual(['https://img.example/i/k3J9xQ2.jpg', 'https://img.example/i/k3J9xQ2.jpeg']);
    expect(urls).toContain('https://img.example/i/k3J9xQ2/s.avif');
    expect(new Set(urls).size).toBe(20);
  });

  it('has no other spelling for a format that has none', () => {
    expect(imagePublicUrls('https://img.example', 'k3J9xQ2', 'png')).toHaveLength(19);
  });

  it('covers every spelling when the extension is no longer known (the asset row is gone)', () => {
    const urls = imagePublicUrls('https://img.example', 'k3J9xQ2');
    for (const ext of ['jpg', 'jpeg', 'png', 'gif', 'webp', 'avif', 'tif', 'tiff']) {
      expect(urls).toContain(`https://img.example/i/k3J9xQ2.${ext}`);
    }
    expect(urls).toHaveLength(8 + 18);
  });
});
