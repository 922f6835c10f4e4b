import { FlowProducer, Queue } from 'bullmq';
import pTimeout from 'p-timeout';
import type { Redis } from 'ioredis';
import { createRedisConnection } from './connection';
import { assetFlow, webhookJobOptions, type AssetFlowOptions, type WebhookRetryPolicy } from './flow';
import { jobIdFor, type WebhookJobData } from './jobs';
import { QUEUE_NAMES, type QueueName } from './names';

export interface QueueClientOptions {
  redisUrl: string;
  prefix: string;
  /** How long a producer call may wait for Redis before giving up (BullMQ waits for a connection otherwise). */
  commandTimeoutMs?: number;
  /** How the asset flows this client enqueues are tuned. */
  flow?: AssetFlowOptions;
}

export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError';
}

/**
 * The producer side of the queues, used by the API and the reconciler: enqueue an asset's flow, inspect it,
 * drop it. Shares one fail-fast connection.
 */
export class QueueClient {
  readonly connection: Redis;
  readonly queues: { readonly [Q in QueueName]: Queue };
  private readonly flows: FlowProducer;
  private readonly commandTimeoutMs: number;
  private readonly flowOptions: AssetFlowOptions;

  constructor(options: QueueClientOptions) {
    this.commandTimeoutMs = options.commandTimeoutMs ?? 2000;
    this.flowOptions = options.flow ?? {};
    this.connection = createRedisConnection(options.redisUrl, 'producer');
    // Connection errors are expected while Redis is down; callers see them as rejected commands.
    this.connection.on('error', () => undefined);
    const shared = { connection: this.connection, prefix: options.prefix };
    this.flows = new FlowProducer(shared);
    this.flows.on('error', () => undefined);
    this.queues = Object.fromEntries(
      QUEUE_NAMES.map((name) => {
        const queue = new Queue(name, shared);
        queue.on('error', () => undefined);
        return [name, queue];
      }),
    ) as { [Q in QueueName]: Queue };
  }

  /** Idempotent: the flow's job ids derive from the asset, so enqueueing twice does not duplicate work. */
  async enqueueAsset(sha256: string): Promise<void> {
    await this.bounded(this.flows.add(assetFlow(sha256, this.flowOptions)), 'enqueue a flow');
  }

  /**
   * Makes sure the asset's flow exists: re-adds it when Redis lost it (restart without persistence) or when its
   * settle job failed for good. Returns whether a flow was added.
   */
  async ensureAssetFlow(sha256: string): Promise<boolean> {
    const parentId = jobIdFor('settle', sha256);
    const state = await this.bounded(this.queues.settle.getJobState(parentId), 'read a job state');
    if (state !== 'unknown' && state !== 'failed' && state !== 'completed') return false;
    if (state !== 'unknown') await (await this.queues.settle.getJob(parentId))?.remove({ removeChildren: true });
    await this.enqueueAsset(sha256);
    return true;
  }

  /** Queues one webhook delivery; the job id is the event id plus the receiver, so an event is sent once. */
  async enqueueWebhook(data: WebhookJobData, retry: WebhookRetryPolicy): Promise<void> {
    const jobId = `${data.eventId}-${data.imageId}`;
    await this.bounded(this.queues.webhook.add(data.eventType, data, webhookJobOptions(retry, jobId)), 'enqueue a webhook');
  }

  /** Removes the asset's pending jobs; jobs already running finish and find the asset gone. */
  async dropAsset(sha256: string): Promise<void> {
    const parent = await this.bounded(this.queues.settle.getJob(jobIdFor('settle', sha256)), 'find a job');
    if (parent) await this.bounded(parent.remove({ removeChildren: true }), 'remove a job').catch(() => undefined);
  }

  async ping(): Promise<void> {
    await this.bounded(this.connection.ping(), 'ping');
  }

  /** Jobs per queue and state (waiting, active, failed, ...), bounded like every producer call. */
  async jobCounts(): Promise<Record<QueueName, Record<string, number>>> {
    const counts = QUEUE_NAMES.map(async (name) => [name, await this.queues[name].getJobCounts()] as const);
    return Object.fromEntries(await this.bounded(Promise.all(counts), 'count jobs')) as Record<QueueName, Record<string, number>>;
  }

  /**
   * BullMQ waits for a connection rather than failing while Redis is down; callers in the request path need
   * an answer now. An operation that times out may still complete later, which is harmless: enqueueing is
   * idempotent.
   */
  private async bounded<T>(operation: Promise<T>, what: string): Promise<T> {
    operation.catch(() => undefined);
    return pTimeout(operation, {
      milliseconds: this.commandTimeoutMs,
      message: new QueueUnavailableError(`Redis did not answer within ${this.commandTimeoutMs} ms (${what})`),
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.flows.close(), ...Object.values(this.queues).map((queue) => queue.close())]);
    this.connection.disconnect();
  }
}
