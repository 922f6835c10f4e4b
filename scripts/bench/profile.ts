/**
 * `npm run bench:profile`: where the CPU of one asset goes, stage by stage. One process, real PostgreSQL, Redis
 * and local storage (a throwaway database, queue prefix and directory): the upload use case, then each stage
 * through the one stage runner, in flow order, one at a time, so each row's CPU time (process.cpuUsage: the
 * JavaScript thread and libvips' threads) is that stage's alone. Repeated on distinct bytes of the same photo;
 * the table shows medians. Nothing here waits on a queue: the flow's jobs are left unconsumed, and removed.
 * Then the capacity of one core per rendition format: the CPU of encoding that format's 6 sizes from the decoded
 * base, one at a time (plus the decode, which every format shares).
 * Usage: tsx scripts/bench/profile.ts [corpus photo, default photos/42_IndexError.jpg] [repeats, default 5]
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '@renditions/config';
import { findImage } from '@renditions/db';
import { createLogger } from '@renditions/observability';
import { CpuScheduler, decodeRenditionBase, planRenditions, renderRenditions, RENDITION_FORMATS } from '@renditions/imaging';
import { createServices, createStageTools, runStage, STAGES, uploadImage } from '@renditions/pipeline';
import type { AssetJobData } from '@renditions/queue';
import { CORPUS_DIR } from '../../test/support/corpus';
import { jobOf } from '../../test/support/jobs';
import { benchEnv, runCleanups, table, throwawayBackends, withComment, type Cleanups } from './harness';
import { median } from './stages';

interface Sample {
  step: string;
  cpuMs: number;
  wallMs: number;
}

async function measure<T>(samples: Sample[], step: string, work: () => Promise<T>): Promise<T> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await work();
  const used = process.cpuUsage(cpu);
  samples.push({ step, cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - started });
  return result;
}

async function main(photoName: string, repeats: number): Promise<void> {
  const cleanups: Cleanups = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'renditions-profile-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const samples: Sample[] = [];
  const photo = await readFile(path.join(CORPUS_DIR, photoName));
  try {
    const config = loadConfig(benchEnv(await throwawayBackends('profile', cleanups), dir, 0));
    const services = createServices(config, createLogger({ level: 'warn', name: 'profile' }));
    cleanups.push(() => services.close());
    const tools = createStageTools(config);
    for (let run = 0; run <= repeats; run++) {
      const bytes = withComment(photo, `profile ${process.pid} ${run}`);
      const spooled = path.join(dir, `upload-${run}`);
      await writeFile(spooled, bytes);
      const file = { path: spooled, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
      // Run 0 warms code paths and libvips up; it is not counted.
      const into = run === 0 ? [] : samples;
      const { resource } = await measure(into, 'upload (API: validate, store, record, enqueue)', () => uploadImage(services, { file }));
      const assetId = (await findImage(services.db, resource.id))!.assetId!;
      for (const stage of STAGES) {
        const job = jobOf<AssetJobData>({ assetId, run: 1 }, { id: `profile-${stage.name}-${assetId}`, attempts: 1 });
        await measure(into, stage.name, () => runStage(services, tools, stage, job));
      }
    }
  } finally {
    await runCleanups(cleanups);
  }

  const steps = [...new Set(samples.map((sample) => sample.step))];
  const rows = steps.map((step) => {
    const mine = samples.filter((sample) => sample.step === step);
    return { step, cpuMs: median(mine.map((s) => s.cpuMs)), wallMs: median(mine.map((s) => s.wallMs)) };
  });
  const total = rows.reduce((sum, row) => sum + row.cpuMs, 0);
  console.log(`CPU of one asset, ${photoName} (${(photo.length / 1e6).toFixed(1)} MB), median of ${repeats}, stages run one at a time:\n`);
  console.log(
    table(
      ['step', 'CPU', 'share', 'wall'],
      [
        ...rows.map((row) => [row.step, `${Math.round(row.cpuMs)} ms`, `${Math.round((100 * row.cpuMs) / total)}%`, `${Math.round(row.wallMs)} ms`]),
        ['total', `${Math.round(total)} ms`, '100%', `${Math.round(rows.reduce((sum, row) => sum + row.wallMs, 0))} ms`],
      ],
    ),
  );
}

/** CPU of the decode and of each format's 6 encodes, medians over `repeats`, one encode at a time. */
async function formatCosts(photo: Buffer, repeats: number): Promise<void> {
  const samples: Sample[] = [];
  const scheduler = new CpuScheduler(1);
  for (let run = 0; run <= repeats; run++) {
    const into = run === 0 ? [] : samples;
    const base = await measure(into, 'decode (shared)', () => decodeRenditionBase(photo));
    const specs = planRenditions(base.source.width, base.source.height);
    for (const format of RENDITION_FORMATS) {
      const mine = specs.filter((spec) => spec.format === format);
      await measure(into, format, () => renderRenditions(base, mine, async () => undefined, { scheduler }));
    }
  }
  const rows = [...new Set(samples.map((sample) => sample.step))].map((step) => {
    const cpuMs = median(samples.filter((sample) => sample.step === step).map((sample) => sample.cpuMs));
    return [step, `${Math.round(cpuMs)} ms`, step.startsWith('decode') ? '' : (60_000 / cpuMs).toFixed(0)];
  });
  console.log(`\nOne core per format, 6 sizes from the decoded base, median of ${repeats}:\n`);
  console.log(table(['work', 'CPU', 'assets per minute per core (encodes alone)'], rows));
}

const [photoName = 'photos/42_IndexError.jpg', repeatsText = '5'] = process.argv.slice(2);
await main(photoName, Number(repeatsText));
await formatCosts(await readFile(path.join(CORPUS_DIR, photoName)), Number(repeatsText));
