import type { RedisNode } from './redis-cluster';
import { envSchema } from './schema';

export interface S3Config {
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
}

export interface Config {
  env: string;
  logLevel: string;
  port: number;
  publicBaseUrl: string;
  databaseUrl: string;
  /**
   * The connection pool of each process: its size, and whether statements are prepared (false behind a pooler in
   * transaction mode, such as PgBouncer's `pool_mode = transaction`).
   */
  database: { poolSize: number; prepare: boolean };
  redisUrl: string;
  /** Seeds of a Redis Cluster; when set, every Redis connection goes to the cluster and `redisUrl` is ignored. */
  redisClusterNodes: RedisNode[] | null;
  queuePrefix: string;
  /** `timeoutMs`: the deadline of every storage call; a stalled store fails the call (503) instead of holding it. */
  storage: ({ driver: 'local'; dir: string } | { driver: 's3'; s3: S3Config }) & { timeoutMs: number };
  /** The sweeper: how often it runs in each worker, and how old an unreferenced object must be before it goes. */
  sweep: { intervalMs: number; graceMs: number };
  limits: {
    maxUploadBytes: number;
    maxInputPixels: number;
    /** Animated uploads: frame count and pixels summed over all frames, so one upload cannot hold a worker for minutes. */
    maxAnimationFrames: number;
    maxAnimationPixels: number;
  };
  webhooks: {
    /** `null`: generated once, stored in the database and logged, so every process signs alike. */
    secret: string | null;
    allowPrivate: boolean;
    timeoutMs: number;
    attempts: number;
    /** First retry delay; each next one doubles, with up to half of it taken off at random (jitter). */
    backoffMs: number;
  };
  moderation: {
    /** `null`: the built-in provider (allow, plus the hash blocklist). */
    webhookUrl: string | null;
    failMode: 'open' | 'closed';
    timeoutMs: number;
    attempts: number;
  };
  /** `null`: purging the CDN is a no-op (no cache in front, or one that expires by itself). */
  cdnPurgeUrl: string | null;
  /** Where `npm run cdn` serves its nginx caching proxy. */
  cdnPort: number;
  worker: {
    concurrency: number;
    /** WORKER_QUEUES as given, `null` for every queue; selectWorkerQueues checks the names against the product's. */
    queues: readonly string[] | null;
    reconcileIntervalMs: number;
    staleFlowAfterMs: number;
    lockDurationMs: number;
    /** Port of the worker's own Prometheus endpoint; `null` (WORKER_METRICS_PORT=0) turns it off. */
    metricsPort: number | null;
    /** Address the worker's metrics listen on: loopback unless set (e.g. `0.0.0.0` for a scraper in another container). */
    metricsHost: string;
  };
  /** `null`: `/metrics` is open, as before. Set: every `/metrics` asks for `Authorization: Bearer <token>`. */
  metricsToken: string | null;
  /** `null` when no admin password is set: admin routes then always answer 401. */
  admin: { user: string; password: string } | null;
  shutdownTimeoutMs: number;
  /** The public edge: whose address a request comes from, and how much one client and one process may ask. */
  edge: {
    /** express's `trust proxy`: false, true, a hop count, or a comma list of addresses/subnets. */
    trustProxy: boolean | number | string;
    /** Uploads per client per minute, shared by every API process through Redis; 0 turns the limit off. */
    uploadsPerMinute: number;
    /** Uploads validated at once per API process; the rest wait their turn. */
    maxConcurrentUploads: number;
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the environment once, at start. A bad value stops the process with a message naming the variable.
 * @throws {ConfigError} listing every invalid variable
 * @example const config = loadConfig(process.env);
 */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const env = parsed.data;
  return {
    env: env.NODE_ENV,
    logLevel: env.LOG_LEVEL,
    port: env.PORT,
    publicBaseUrl: (env.PUBLIC_BASE_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, ''),
    databaseUrl: env.DATABASE_URL,
    database: { poolSize: env.DATABASE_POOL_SIZE, prepare: env.DATABASE_PREPARE },
    redisUrl: env.REDIS_URL,
    redisClusterNodes: env.REDIS_CLUSTER_NODES,
    queuePrefix: env.QUEUE_PREFIX,
    storage:
      env.STORAGE_DRIVER === 's3'
        ? {
            driver: 's3',
            s3: {
              endpoint: env.S3_ENDPOINT,
              region: env.S3_REGION,
              bucket: env.S3_BUCKET as string,
              accessKeyId: env.S3_ACCESS_KEY_ID,
              secretAccessKey: env.S3_SECRET_ACCESS_KEY,
              forcePathStyle: env.S3_FORCE_PATH_STYLE,
            },
            timeoutMs: env.STORAGE_TIMEOUT_MS,
          }
        : { driver: 'local', dir: env.STORAGE_DIR, timeoutMs: env.STORAGE_TIMEOUT_MS },
    sweep: { intervalMs: env.SWEEP_INTERVAL_MS, graceMs: env.SWEEP_GRACE_MS },
    limits: {
      maxUploadBytes: env.MAX_UPLOAD_BYTES,
      maxInputPixels: env.MAX_INPUT_PIXELS,
      maxAnimationFrames: env.MAX_ANIMATION_FRAMES,
      maxAnimationPixels: env.MAX_ANIMATION_PIXELS,
    },
    webhooks: {
      secret: env.WEBHOOK_SECRET ?? null,
      allowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      attempts: env.WEBHOOK_ATTEMPTS,
      backoffMs: env.WEBHOOK_BACKOFF_MS,
    },
    moderation: {
      webhookUrl: env.MODERATION_WEBHOOK_URL ?? null,
      failMode: env.MODERATION_FAIL_MODE,
      timeoutMs: env.MODERATION_TIMEOUT_MS,
      attempts: env.MODERATION_ATTEMPTS,
    },
    cdnPurgeUrl: env.CDN_PURGE_URL ?? null,
    cdnPort: env.CDN_PORT,
    worker: {
      concurrency: env.WORKER_CONCURRENCY,
      queues: env.WORKER_QUEUES,
      reconcileIntervalMs: env.RECONCILE_INTERVAL_MS,
      staleFlowAfterMs: env.STALE_FLOW_AFTER_MS,
      lockDurationMs: env.JOB_LOCK_DURATION_MS,
      metricsPort: env.WORKER_METRICS_PORT || null,
      metricsHost: env.WORKER_METRICS_HOST,
    },
    // An empty METRICS_TOKEN= is unset, not a token anyone could send.
    metricsToken: env.METRICS_TOKEN || null,
    admin: env.ADMIN_PASSWORD ? { user: env.ADMIN_USER ?? '', password: env.ADMIN_PASSWORD } : null,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    edge: {
      trustProxy: parseTrustProxy(env.TRUST_PROXY),
      uploadsPerMinute: env.RATE_LIMIT_UPLOADS_PER_MINUTE,
      maxConcurrentUploads: env.MAX_CONCURRENT_UPLOADS,
    },
  };
}

/** TRUST_PROXY as express takes it: `true`/`false`, a hop count, or addresses and subnets as given. */
function parseTrustProxy(value: string): boolean | number | string {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed === 'false') return false;
  if (trimmed === 'true') return true;
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  return trimmed;
}
