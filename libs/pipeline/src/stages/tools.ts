import type { Config } from '@renditions/config';
import { CpuScheduler } from '@renditions/imaging';
import { DecodedSources } from './decoded-sources';

/** What a worker process shares between all its stage jobs: its cores, and what was fetched and decoded. */
export interface StageTools {
  cpu: CpuScheduler;
  sources: DecodedSources;
}

/** One per worker process: WORKER_CONCURRENCY decodes and encodes at once, whatever the number of jobs. */
export function createStageTools(config: Config): StageTools {
  const cpu = new CpuScheduler(config.worker.concurrency);
  return { cpu, sources: new DecodedSources(cpu) };
}
