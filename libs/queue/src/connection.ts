import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** Where Redis is: a single server, or (when `redisClusterNodes` is set, and then `redisUrl` is ignored) a cluster. */
export interface RedisTarget {
  redisUrl: string;
  redisClusterNodes?: readonly { host: string; port: number }[] | null;
}

export type RedisClient = Redis | Cluster;

/**
 * - `worker`: BullMQ workers block on Redis and must retry forever (`maxRetriesPerRequest: null`);
 * - `subscriber`: a pub/sub subscription waits for Redis the same way, and is renewed once it is back;
 * - `producer`: the request path (queues, rate limits, readiness, event publishing) must fail at once while Redis is
 *   down (`enableOfflineQueue: false`), so an upload falls back to the outbox instead of hanging.
 */
export type RedisPurpose = 'worker' | 'subscriber' | 'producer';

interface Behaviour {
  /** Options of each connection to a server, the one server or every node of the cluster. */
  server: RedisOptions;
  /** Whether a command waits while no connection is up, rather than failing at once. */
  offlineQueue: boolean;
}

const WAITS_FOR_REDIS: Behaviour = { server: { maxRetriesPerRequest: null }, offlineQueue: true };
/**
 * A subscriber skips ioredis's ready check: its INFO is refused once a SUBSCRIBE queued while connecting went out
 * first ("Connection in subscriber mode"), which failed some of the streams opened at once on a fresh connection.
 */
const SUBSCRIBES: Behaviour = { server: { maxRetriesPerRequest: null, enableReadyCheck: false }, offlineQueue: true };
const FAILS_FAST: Behaviour = { server: { maxRetriesPerRequest: 1, connectTimeout: 2000 }, offlineQueue: false };
const BEHAVIOURS: Record<RedisPurpose, Behaviour> = { worker: WAITS_FOR_REDIS, subscriber: SUBSCRIBES, producer: FAILS_FAST };

const reconnectDelay = (attempt: number) => Math.min(attempt * 200, 2000);

/**
 * Until a lost master's replica promotes itself (`cluster-node-timeout` plus about a second), a command for its slots
 * meets a refused connection or CLUSTERDOWN. ioredis tries it again every 100 ms, each try counting against
 * `maxRedirections`: its default (16) fails commands after about a second, 160 rides out about 10 s of failover.
 * Longer ones fail the command: a worker's job runs again, an upload's flow waits in the outbox.
 */
const FAILOVER: ClusterOptions = { retryDelayOnFailover: 100, retryDelayOnClusterDown: 100, maxRedirections: 160 };

/**
 * The one place a Redis connection is made: every queue, worker, rate limit, health check and event stream goes
 * through it, so one setting (REDIS_CLUSTER_NODES) moves them all to a Redis Cluster.
 * @example const connection = createRedisConnection(config, 'producer');
 */
export function createRedisConnection(target: RedisTarget, purpose: RedisPurpose): RedisClient {
  const { server, offlineQueue } = BEHAVIOURS[purpose];
  if (target.redisClusterNodes) {
    return new Cluster([...target.redisClusterNodes], {
      ...FAILOVER,
      enableOfflineQueue: offlineQueue,
      clusterRetryStrategy: reconnectDelay,
      // BullMQ reads `maxRetriesPerRequest` of a Cluster from here.
      redisOptions: server,
    });
  }
  return new Redis(target.redisUrl, { ...server, enableOfflineQueue: offlineQueue, retryStrategy: reconnectDelay });
}
