/**
 * The plain-sharp reference for `renditions.ts`: renders all 18 renditions of each given file with the lib's own
 * `renderRenditions` (one decode, longest encodes first), 2 images in flight, outputs discarded. It runs as a
 * child process so it can be given exactly the worker's environment (nice 10, jemalloc) and so its peak RSS is
 * its own. Prints one JSON line: wall and CPU time, CPU time of the whole machine meanwhile, peak RSS, sharp's
 * thread setting.
 * Usage: tsx scripts/bench/plain-sharp.ts FILE...
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { planRenditions, decodeRenditionBase, renderRenditions } from '@renditions/imaging';
import { machineBusySeconds, mainThreadCpuSeconds } from './proc';

export interface PlainResult {
  images: number;
  imagesInFlight: number;
  wallMs: number;
  cpuMs: number;
  /** The part of cpuMs spent on the main (JavaScript) thread. */
  mainThreadCpuMs: number;
  /** Busy CPU time of the whole machine during the run: what is not ours was other load. */
  machineBusyMs: number;
  peakRssBytes: number;
  sharpConcurrency: number;
}

const IMAGES_IN_FLIGHT = 2;

/** The displayed (auto-oriented) size, which is what the upload path plans renditions from. */
async function displayedSize(source: Buffer): Promise<{ width: number; height: number }> {
  const meta = await sharp(source).metadata();
  const height = meta.pageHeight ?? meta.height;
  return (meta.orientation ?? 1) >= 5 ? { width: height, height: meta.width } : { width: meta.width, height };
}

async function renderAll(source: Buffer): Promise<void> {
  const { width, height } = await displayedSize(source);
  await renderRenditions(await decodeRenditionBase(source), planRenditions(width, height), async () => undefined);
}

async function main(files: string[]): Promise<PlainResult> {
  // Reading happens before the clock starts: the worker reads its source from local storage, which is as cheap.
  const sources = await Promise.all(files.map((file) => readFile(file)));
  const cpuBefore = process.cpuUsage();
  const machineBefore = machineBusySeconds();
  const mainThreadBefore = mainThreadCpuSeconds(process.pid);
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < sources.length) await renderAll(sources[next++]!);
  };
  await Promise.all(Array.from({ length: IMAGES_IN_FLIGHT }, lane));
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const machineBusyMs = (machineBusySeconds() - machineBefore) * 1000;
  return {
    images: sources.length,
    imagesInFlight: IMAGES_IN_FLIGHT,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    mainThreadCpuMs: (mainThreadCpuSeconds(process.pid) - mainThreadBefore) * 1000,
    machineBusyMs,
    // maxRSS is in KiB.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    sharpConcurrency: sharp.concurrency(),
  };
}

console.log(JSON.stringify(await main(process.argv.slice(2))));
