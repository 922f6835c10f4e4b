import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidImageError } from '@renditions/errors';
import { probeImage } from '../src/probe';
import { eventLoopDelayDuring, memoryGrowthDuring } from './load-measures';
import { readCorpus } from './corpus';
import { idatBombPng, incompressiblePng } from './png-builders';

const LIMITS = { maxInputPixels: 100_000_000, maxAnimationFrames: 300, maxAnimationPixels: 150_000_000 };
const MB = 1024 * 1024;
/**
 * What tells a walk that yields from one that does not, on a loaded 2-core CI machine: the old synchronous walks
 * stalled the loop for 0.7-1.6 s; bounded walks stay near the 10 ms sampling floor (the benchmark, not this test,
 * holds the 50 ms bar: scripts/bench/abuse.ts).
 */
const MAX_P99_LAG_MS = 200;

let dir: string;
let bombPath: string;
let bombSize: number;
let commentBombPath: string;
let bigPngPath: string;
let bigPngSize: number;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'probe-load-'));
  const bomb = await idatBombPng(1_745_000);
  bombPath = path.join(dir, 'idat-bomb.png');
  bombSize = bomb.length;
  writeFileSync(bombPath, bomb);
  // The JPEG counterpart: 5 M empty comment segments (ff fe 00 02) between SOI and the frame header.
  const photo = readCorpus('photos/DSCN0010.jpg');
  const comments = Buffer.alloc(20 * MB).fill(Buffer.from([0xff, 0xfe, 0x00, 0x02]));
  commentBombPath = path.join(dir, 'comment-bomb.jpg');
  writeFileSync(commentBombPath, Buffer.concat([photo.subarray(0, 2), comments, photo.subarray(2)]));
  const big = await incompressiblePng(20 * MB);
  bigPngPath = path.join(dir, 'noise.png');
  bigPngSize = big.length;
  writeFileSync(bigPngPath, big);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('probeImage under load: the event loop (F8)', () => {
  it('refuses a 20 MB PNG of 1.75 M empty IDAT chunks without stalling the event loop', async () => {
    const { outcome, delay } = await eventLoopDelayDuring(() => probeImage(bombPath, LIMITS));
    console.info(`IDAT bomb (${(bombSize / MB).toFixed(1)} MiB), one probe: event-loop delay p99 ${delay.p99Ms.toFixed(1)} ms, max ${delay.maxMs.toFixed(1)} ms`);
    expect(outcome).toBeInstanceOf(InvalidImageError);
    expect((outcome as Error).message).toMatch(/Expected intact PNG chunks; too many chunks/);
    expect(delay.p99Ms).toBeLessThan(MAX_P99_LAG_MS);
  });

  it('six bombs at once do not stall it either', async () => {
    const { outcome, delay } = await eventLoopDelayDuring(() =>
      Promise.allSettled(Array.from({ length: 6 }, () => probeImage(bombPath, LIMITS))),
    );
    console.info(`IDAT bomb, six probes at once: event-loop delay p99 ${delay.p99Ms.toFixed(1)} ms, max ${delay.maxMs.toFixed(1)} ms`);
    for (const result of outcome as PromiseSettledResult<unknown>[]) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(InvalidImageError);
    }
    expect(delay.p99Ms).toBeLessThan(MAX_P99_LAG_MS);
  });

  it('the same bytes passed as a Buffer go through the same bounded walk', async () => {
    const { readFile } = await import('node:fs/promises');
    const bomb = await readFile(bombPath);
    const { outcome, delay } = await eventLoopDelayDuring(() => probeImage(bomb, LIMITS));
    console.info(`IDAT bomb as a Buffer: event-loop delay p99 ${delay.p99Ms.toFixed(1)} ms, max ${delay.maxMs.toFixed(1)} ms`);
    expect(outcome).toBeInstanceOf(InvalidImageError);
    expect(delay.p99Ms).toBeLessThan(MAX_P99_LAG_MS);
  });

  it('refuses a 20 MB JPEG of 5 M empty comment segments without stalling the event loop', async () => {
    const { outcome, delay } = await eventLoopDelayDuring(() => probeImage(commentBombPath, LIMITS));
    console.info(`JPEG comment bomb: event-loop delay p99 ${delay.p99Ms.toFixed(1)} ms, max ${delay.maxMs.toFixed(1)} ms`);
    expect(outcome).toBeInstanceOf(InvalidImageError);
    expect((outcome as Error).message).toMatch(/Expected intact JPEG segments; too many segments/);
    expect(delay.p99Ms).toBeLessThan(MAX_P99_LAG_MS);
  });

  it('a valid 20 MB PNG, every byte CRC-checked, leaves the event loop responsive', async () => {
    const { outcome, delay } = await eventLoopDelayDuring(() => probeImage(bigPngPath, LIMITS));
    console.info(`valid ${(bigPngSize / MB).toFixed(1)} MiB PNG: event-loop delay p99 ${delay.p99Ms.toFixed(1)} ms, max ${delay.maxMs.toFixed(1)} ms`);
    expect(outcome).toMatchObject({ format: 'png' });
    expect(delay.p99Ms).toBeLessThan(MAX_P99_LAG_MS);
  });
});

describe('probeImage under load: memory (F7)', () => {
  it('ten concurrent probes of a 20 MB file never hold the file in memory', async () => {
    const growth = await memoryGrowthDuring(async () => {
      const probes = await Promise.all(Array.from({ length: 10 }, () => probeImage(bigPngPath, LIMITS)));
      for (const probe of probes) expect(probe).toMatchObject({ format: 'png' });
    });
    console.info(
      `10 concurrent probes of a ${(bigPngSize / MB).toFixed(1)} MiB PNG: arrayBuffers +${(growth.arrayBuffers / MB).toFixed(2)} MiB, ` +
        `RSS +${(growth.rss / MB).toFixed(0)} MiB (RSS includes libvips' decode buffers)`,
    );
    // Reading each file whole would add 10 x 20 MB; streaming holds one small read window per probe.
    expect(growth.arrayBuffers).toBeLessThan(bigPngSize / 4);
  });
});
