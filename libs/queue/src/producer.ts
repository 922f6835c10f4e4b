import { FlowProducer, Queue, type JobsOptions } from 'bullmq';
import pTimeout from 'p-timeout';
import { createRedisConnection, type RedisClient, type RedisTarget } from './connection';
import { assetFlow, JOB_RETENTION, planFlow, type FlowStage } from './flow';
import {
  cleanupJobId,
  reprocessJobId,
  stageJobId,
  type AssetJobData,
  type CleanupJobData,
  type ReprocessJobData,
  type WebhookJobData,
} from './jobs';

export interface QueueClientOptions extends RedisTarget {
  prefix: string;
  /** Every queue name the product uses (stages, cleanup, webhook): the queues this client inspects. */
  queueNames: readonly string[];
  /** The asset flow's stages and its root; without them the client can inspect queues but not enqueue flows. */
  flow?: { stages: readonly FlowStage[]; root: string };
  /** How long a producer call may wait for Redis before giving up (BullMQ waits for a connection otherwise). */
  commandTimeoutMs?: number;
  onError?: (error: Error) => void;
}

/** How a webhook event is retried: `backoffMs` doubles at each retry, jitter takes up to half of it off. */
export interface WebhookRetryPolicy {
  attempts: number;
  backoffMs: number;
}

export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError';
}

/**
 * The priority of backfill jobs: BullMQ takes every job added without a priority (new uploads' flows) first, and a
 * worker keeps these to a share of its slots (WorkerPoolOptions.backgroundLimit).
 */
export const BACKFILL_PRIORITY = 1000;

/** Cleanup retries until storage and the CDN accept: the reconciler re-adds one that used up its attempts. */
const CLEANUP_OPTIONS: JobsOptions = { attempts: 20, backoff: { type: 'exponential', delay: 1000 }, ...JOB_RETENTION };

/**
 * The producer side of the queues, used by the API and the reconciler: enqueue an asset's flow, cleanup and
 * webhook deliveries, inspect and drop jobs. Shares one fail-fast connection.
 */
export class QueueClient {
  readonly connection: RedisClient;
  readonly queues: ReadonlyMap<string, Queue>;
  private readonly flows: FlowProducer;
  private readonly commandTimeoutMs: number;
  private readonly prefix: string;
  private readonly flow?: { stages: readonly FlowStage[]; root: FlowStage };

  constructor(options: QueueClientOptions) {
    this.commandTimeoutMs = options.commandTimeoutMs ?? 2000;
    this.prefix = options.prefix;
    this.flow = options.flow && {
      stages: options.flow.stages,
      root: planFlow(options.flow.stages, options.flow.root),
    };
    this.connection = createRedisConnection(options, 'producer');
    // Callers see an outage as rejected commands; the owner decides how loudly to log it.
    const onError = options.onError ?? (() => undefined);
    this.connection.on('error', onError);
    const shared = { connection: this.connection, prefix: options.prefix };
    this.flows = new FlowProducer(shared);
    this.flows.on('error', onError);
    this.queues = new Map(
      options.queueNames.map((name) => {
        const queue = new Queue(name, shared);
        queue.on('error', onError);
        return [name, queue];
      }),
    );
  }

  /** Idempotent: the flow's job ids derive from the asset generation and the run. */
  async enqueueAssetFlow(data: AssetJobData): Promise<void> {
    const flow = this.requireFlow();
    await this.bounded(this.flows.add(assetFlow(flow.root, flow.stages, data)), 'enqueue a flow');
  }

  /**
   * Makes sure the asset's flow run exists: re-adds it when Redis lost it (restart without persistence) or part of
   * it (a failover), or when its root job ended (failed for good, or completed). `stillWanted` is asked once the
   * flow looks gone, before anything changes: a root that completed between the caller's reading and this look has
   * settled its asset, and must not run again. Returns whether a flow was added.
   */
  async ensureAssetFlow(data: AssetJobData, stillWanted: () => Promise<boolean> = async () => true): Promise<boolean> {
    const root = this.requireFlow().root.name;
    const queue = this.queue(root);
    const rootId = stageJobId(root, data);
    const state = await this.bounded(queue.getJobState(rootId), 'read a job state');
    if (state === 'waiting-children') {
      // Adding the flow again re-creates only the jobs that are missing, under their parents; the rest stay as they are.
      if (!(await this.bounded(this.missesAJob(queue, rootId), 'read a flow')) || !(await stillWanted())) return false;
      await this.enqueueAssetFlow(data);
      return true;
    }
    if (state !== 'unknown' && state !== 'failed' && state !== 'completed') return false;
    if (!(await stillWanted())) return false;
    if (state !== 'unknown') await this.bounded(removeJob(queue, rootId), 'remove a job');
    await this.enqueueAssetFlow(data);
    return true;
  }

  /**
   * Whether a job that `jobId` waits for, at any depth, is gone: a Redis failover keeps only the writes that reached
   * the replica, and a parent whose child was lost would wait for it forever.
   */
  private async missesAJob(queue: Queue, jobId: string): Promise<boolean> {
    const job = await queue.getJob(jobId);
    // Gone since it was seen waiting: it moved on (a lost one is judged by its parent, below).
    if (!job) return false;
    const waitingFor = async () => (await job.getDependencies()).unprocessed ?? [];
    for (const key of await waitingFor()) {
      // A dependency is named by its job's key, which its queue builds from the job id.
      const child = [...this.queues.values()].find((candidate) => key.startsWith(candidate.toKey('')));
      if (!child) continue;
      const childId = key.slice(child.toKey('').length);
      const state = await child.getJobState(childId);
      if (state === 'waiting-children' && (await this.missesAJob(child, childId))) return true;
      // A child that completed since the first read is removed, and at once no longer waited for (one script does
      // both): it is lost only if the parent, read after it was found gone, still waits for it.
      if (state === 'unknown' && (await waitingFor()).includes(key)) return true;
    }
    return false;
  }

  /** Removes a run's jobs that have not started; jobs already running finish and find the asset gone. */
  async dropAssetFlow(data: AssetJobData): Promise<void> {
    const root = this.requireFlow().root.name;
    await this.bounded(removeJob(this.queue(root), stageJobId(root, data)), 'remove a job');
  }

  /**
   * Queues a backfill re-render of an asset on a render stage's queue, below every new upload's job, tried as often
   * as the stage. Idempotent: a job waiting for the asset re-renders whatever is marked when it runs, one that failed
   * for good is replaced. Returns whether a job was added.
   */
  async enqueueReprocess(queueName: string, assetId: string): Promise<boolean> {
    const stage = this.requireFlow().stages.find((candidate) => candidate.name === queueName);
    if (!stage) throw new Error(`Expected a stage's queue for a reprocess but received "${queueName}"`);
    const queue = this.queue(queueName);
    const jobId = reprocessJobId(queueName, assetId);
    const state = await this.bounded(queue.getJobState(jobId), 'read a job state');
    if (state !== 'unknown' && state !== 'failed' && state !== 'completed') return false;
    if (state !== 'unknown') await this.bounded(removeJob(queue, jobId), 'remove a job');
    const data: ReprocessJobData = { assetId, reprocess: true };
    const options: JobsOptions = {
      jobId,
      priority: BACKFILL_PRIORITY,
      attempts: stage.attempts,
      backoff: { type: 'exponential', delay: 1000 },
      ...JOB_RETENTION,
    };
    await this.bounded(queue.add('reprocess', data, options), 'enqueue a reprocess');
    return true;
  }

  /** Idempotent per image or asset; a cleanup that used up its attempts is added afresh. */
  async enqueueCleanup(data: CleanupJobData): Promise<void> {
    const queue = this.queue('cleanup');
    const jobId = cleanupJobId(data);
    const state = await this.bounded(queue.getJobState(jobId), 'read a job state');
    if (state === 'failed' || state === 'completed') await this.bounded(removeJob(queue, jobId), 'remove a job');
    await this.bounded(queue.add(data.kind, data, { ...CLEANUP_OPTIONS, jobId }), 'enqueue a cleanup');
  }

  /** Queues one webhook delivery; the job id is the event id plus the receiver's image, so an event is sent once. */
  async enqueueWebhook(data: WebhookJobData, retry: WebhookRetryPolicy): Promise<void> {
    const options: JobsOptions = {
      jobId: `${data.eventId}-${data.imageId}`,
      attempts: retry.attempts,
      // Exponential backoff with jitter, so retries after a receiver's outage do not stampede.
      backoff: { type: 'exponential', delay: retry.backoffMs, jitter: 0.5 },
      ...JOB_RETENTION,
      // A delivered event's job id stays known for a day, so the outbox relay handing it over a second time (its
      // first hand-over committed, but not the outbox's removal) is a no-op instead of a second delivery.
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
    };
    await this.bounded(this.queue('webhook').add(data.eventType, data, options), 'enqueue a webhook');
  }

  /**
   * A read of a key under the prefix rather than PING: on a Redis Cluster, PING answers from any node, while this goes
   * to the node holding the queues' slot, so it fails while that slot has no master (as every enqueue then does).
   */
  async ping(): Promise<void> {
    await this.bounded(this.connection.exists(`${this.prefix}:ping`), 'ping');
  }

  /** Jobs per queue and state (waiting, active, failed, ...), bounded like every producer call. */
  async jobCounts(): Promise<Record<string, Record<string, number>>> {
    const counts = [...this.queues].map(async ([name, queue]) => [name, await queue.getJobCounts()] as const);
    return Object.fromEntries(await this.bounded(Promise.all(counts), 'count jobs'));
  }

  async close(): Promise<void> {
    // A queue still starting (on a cluster its first command may wait out a node's connect) would report its failed
    // start once the connection is gone, when nobody listens any more: an unhandled rejection. Let starts finish.
    const starting = [this.flows, ...this.queues.values()].map((queue) => queue.waitUntilReady());
    await this.bounded(Promise.allSettled(starting), 'start the queues').catch(() => undefined);
    await Promise.allSettled([this.flows.close(), ...[...this.queues.values()].map((queue) => queue.close())]);
    this.connection.disconnect();
  }

  private queue(name: string): Queue {
    const queue = this.queues.get(name);
    if (!queue) throw new Error(`Expected a queue named "${name}" among ${[...this.queues.keys()].join(', ')}`);
    return queue;
  }

  private requireFlow() {
    if (!this.flow) throw new Error('This QueueClient was made without the flow\'s stages');
    return this.flow;
  }

  /**
   * BullMQ waits for a connection rather than failing while Redis is down; callers need an answer now. An
   * operation that times out may still complete later, which is harmless: every enqueue here is idempotent.
   */
  private async bounded<T>(operation: Promise<T>, what: string): Promise<T> {
    operation.catch(() => undefined);
    return pTimeout(operation, {
      milliseconds: this.commandTimeoutMs,
      message: new QueueUnavailableError(`Redis did not answer within ${this.commandTimeoutMs} ms (${what})`),
    });
  }
}

/** A job and the jobs under it; a job that is running cannot be removed, and is left to find its asset gone. */
async function removeJob(queue: Queue, jobId: string): Promise<void> {
  const job = await queue.getJob(jobId);
  await job?.remove({ removeChildren: true }).catch(() => undefined);
}
