import type { Config } from '@renditions/config';
import { planFlow, type FlowStage } from '@renditions/queue';
import { moderationStage } from './moderation';
import { phashStage } from './phash';
import { renderStages } from './render';
import { settleStage } from './settle';
import { stripStage } from './strip';

/**
 * Every stage of an asset's flow. The flow's shape, the queue names, each asset's stage rows and the worker's
 * processors derive from this list: adding a stage is a file and a line here.
 */
export const STAGES = [stripStage, phashStage, moderationStage, ...renderStages, settleStage] as const;

/** The stage that runs after all others and settles the image. */
export const ROOT_STAGE = settleStage.name;

export type StageName = (typeof STAGES)[number]['name'];

/** Every queue of the product: the stages, durable cleanup, and webhook deliveries. Public names, never renamed. */
export const QUEUE_NAMES = [...STAGES.map((stage) => stage.name), 'cleanup', 'webhook'] as const;
export type QueueName = StageName | 'cleanup' | 'webhook';

export const STAGE_NAMES: readonly StageName[] = STAGES.map((stage) => stage.name);

/** The flow as the queue sees it, with attempts resolved from the configuration. */
export function flowStages(config: Config): FlowStage[] {
  return STAGES.map((stage) => ({
    name: stage.name,
    attempts: typeof stage.attempts === 'function' ? stage.attempts(config) : stage.attempts,
    after: stage.after,
  }));
}

// A stage list whose shape BullMQ cannot run stops the process at start, not at the first upload.
planFlow(
  STAGES.map((stage) => ({ name: stage.name, attempts: 1, after: stage.after })),
  ROOT_STAGE,
);

export function findStage(name: string) {
  return STAGES.find((stage) => stage.name === name);
}
