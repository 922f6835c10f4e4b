import type { Job, JobOutcome } from '@renditions/queue';
import { findStage } from '../../libs/pipeline/src/stages';
import type { StageDefinition } from '../../libs/pipeline/src/stages/definition';

/** The job a BullMQ worker would hand a processor, for tests that drive processors directly. */
export function jobOf<Data>(data: Data, options: { id?: string; attemptsMade?: number; attempts?: number } = {}): Job<Data, JobOutcome> {
  return {
    id: options.id ?? 'test-job',
    name: 'test',
    timestamp: Date.now(),
    data,
    attemptsMade: options.attemptsMade ?? 0,
    opts: { attempts: options.attempts ?? 5 },
  } as unknown as Job<Data, JobOutcome>;
}

/** A stage of the product's list, by its (queue) name. */
export function stageNamed(name: string): StageDefinition {
  const stage = findStage(name);
  if (!stage) throw new Error(`no stage named ${name}`);
  return stage as StageDefinition;
}
