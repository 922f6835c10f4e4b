import { describe, expect, it } from 'vitest';
import type { Asset, Image, Rendition } from '@renditions/db';
import { planRenditions } from '@renditions/imaging';
import { assetObjectKeys, imagePublicUrls } from '../src/moderation/takedown';

const sha = 'a'.repeat(64);
const asset = { sha256: sha, ext: 'jpg', originalKey: `originals/${sha}`, strippedKey: null, phash: null } as Asset;
const image = { id: 'k3J9xQ2', title: null, createdAt: new Date('2026-11-21T10:00:00Z') } as Image;
const renditions = planRenditions(640, 480).map((spec) => ({
  assetSha256: sha,
  ...spec,
  status: 'pending',
  storageKey: null,
})) as Rendition[];

describe('assetObjectKeys', () => {
  it('names every object the asset may have, recorded or not, once', () => {
    const keys = assetObjectKeys(asset, renditions);
    expect(keys).toHaveLength(1 + 1 + 18);
    expect(keys).toContain(`originals/${sha}`);
    expect(keys).toContain(`stripped/${sha}.jpg`);
    expect(keys).toContain(`renditions/${sha}/m.avif`);
    const recorded = renditions.map((r) => ({ ...r, storageKey: `renditions/${sha}/${r.size}.${r.format}` }));
    expect(assetObjectKeys({ ...asset, strippedKey: `stripped/${sha}.jpg` }, recorded).sort()).toEqual(keys.sort());
  });
});

describe('imagePublicUrls', () => {
  it('lists the original, its other spelling and the 18 renditions', () => {
    const urls = imagePublicUrls('https://img.example', image, asset, renditions);
    expect(urls).toHaveLength(20);
    expect(urls.slice(0, 2)).toEqual(['https://img.example/i/k3J9xQ2.jpg', 'https://img.example/i/k3J9xQ2.jpeg']);
    expect(urls).toContain('https://img.example/i/k3J9xQ2/s.avif');
    expect(new Set(urls).size).toBe(20);
  });

  it('has no other spelling for a format that has none', () => {
    expect(imagePublicUrls('https://img.example', image, { ...asset, ext: 'png' }, renditions)).toHaveLength(19);
  });
});
