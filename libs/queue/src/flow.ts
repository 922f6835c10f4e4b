import type { FlowJob, JobsOptions } from 'bullmq';
import { stageJobId, type AssetJobData } from './jobs';

/** What the queue needs to know of a stage: its queue, how often it is tried, and which stages it waits for. */
export interface FlowStage {
  name: string;
  attempts: number;
  /** Stages that must finish (or fail for good) first. The flow's root runs after everything. */
  after: readonly string[];
}

export const JOB_RETENTION: Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'> = {
  removeOnComplete: true,
  // Failed jobs stay a while so an admin can read and retry them in Bull Board.
  removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
};

/**
 * The flow's shape, checked once: BullMQ gives a job one parent, so each stage may be waited for by one stage
 * only; every name must be known; exactly one stage (the root) waits for everything nobody else waits for.
 * @throws {Error} naming the stage that breaks the shape
 */
export function planFlow(stages: readonly FlowStage[], rootName: string): FlowStage {
  const byName = new Map(stages.map((stage) => [stage.name, stage]));
  if (byName.size !== stages.length) throw new Error('Expected unique stage names');
  const root = byName.get(rootName);
  if (!root) throw new Error(`Expected a root stage "${rootName}" in the stage list`);
  const waitedFor = new Map<string, string>();
  for (const stage of stages) {
    for (const name of stage.after) {
      if (!byName.has(name)) throw new Error(`Stage "${stage.name}" runs after "${name}", which is not a stage`);
      if (name === rootName) throw new Error(`Stage "${stage.name}" cannot run after the root "${rootName}"`);
      const other = waitedFor.get(name);
      if (other) throw new Error(`Stage "${name}" is waited for by both "${other}" and "${stage.name}"; a job has one parent`);
      waitedFor.set(name, stage.name);
    }
  }
  if (root.after.length > 0) throw new Error(`The root "${rootName}" runs after every other stage; give it no "after"`);
  const topLevel = stages.filter((stage) => stage !== root && !waitedFor.has(stage.name)).map((stage) => stage.name);
  const planned = { ...root, after: topLevel };
  // Every stage must hang under the root: a cycle (a after b after a) leaves its members unreachable.
  const reachable = new Set<string>();
  const visit = (stage: FlowStage) => {
    reachable.add(stage.name);
    for (const name of stage.after) visit(byName.get(name) as FlowStage);
  };
  visit(planned);
  const lost = stages.filter((stage) => !reachable.has(stage.name)).map((stage) => stage.name);
  if (lost.length > 0) throw new Error(`Stages ${lost.join(', ')} wait for each other in a cycle`);
  return planned;
}

/**
 * One run of an asset's work as a BullMQ flow: each stage is the parent of the stages it runs after, the root
 * (settle) over everything. `ignoreDependencyOnFailure` at every level: a parent runs once its children completed
 * or failed for good, so an image always settles and never stays `processing`.
 */
export function assetFlow(root: FlowStage, stages: readonly FlowStage[], data: AssetJobData): FlowJob {
  const byName = new Map(stages.map((stage) => [stage.name, stage]));
  const job = (stage: FlowStage, isRoot: boolean): FlowJob => ({
    name: stage.name,
    queueName: stage.name,
    data,
    opts: {
      jobId: stageJobId(stage.name, data),
      attempts: stage.attempts,
      backoff: { type: 'exponential', delay: 1000 },
      ...JOB_RETENTION,
      ...(isRoot ? {} : { ignoreDependencyOnFailure: true }),
    },
    ...(stage.after.length > 0
      ? { children: stage.after.map((name) => job(byName.get(name) as FlowStage, false)) }
      : {}),
  });
  return job(root, true);
}
