import os from 'node:os';
import { z } from 'zod';
import { clusterQueuePrefixProblem, redisClusterNodes } from './redis-cluster';

const booleanFlag = z
  .enum(['true', 'false', '1', '0', ''])
  .default('false')
  .transform((value) => value === 'true' || value === '1');

const positiveInt = z.coerce.number().int().positive();

/** A comma-separated list; unset or empty (compose's `${NAME:-}`) is null. Duplicates count once. */
const commaList = z
  .string()
  .optional()
  .transform((value) => {
    const items = [...new Set((value ?? '').split(',').map((item) => item.trim()).filter(Boolean))];
    return items.length > 0 ? items : null;
  });

export const envSchema = z
  .object({
    NODE_ENV: z.string().default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    PUBLIC_BASE_URL: z.url().optional(),
    DATABASE_URL: z.string().min(1).default('postgres://postgres@127.0.0.1:5432/renditions'),
    DATABASE_POOL_SIZE: positiveInt.default(10),
    // Off behind a pooler in transaction mode (PgBouncer before 1.21), which runs each transaction on any server
    // connection: a statement prepared on one is unknown on the next.
    DATABASE_PREPARE: z
      .enum(['true', 'false', '1', '0'])
      .default('true')
      .transform((value) => value === 'true' || value === '1'),
    REDIS_URL: z.string().min(1).default('redis://127.0.0.1:6379'),
    REDIS_CLUSTER_NODES: redisClusterNodes,
    QUEUE_PREFIX: z.string().min(1).default('{img}'),
    STORAGE_DRIVER: z.enum(['local', 's3']).default('local'),
    STORAGE_DIR: z.string().min(1).default('./data/objects'),
    S3_ENDPOINT: z.url().optional(),
    S3_REGION: z.string().default('us-east-1'),
    S3_BUCKET: z.string().optional(),
    S3_ACCESS_KEY_ID: z.string().optional(),
    S3_SECRET_ACCESS_KEY: z.string().optional(),
    S3_FORCE_PATH_STYLE: booleanFlag,
    STORAGE_TIMEOUT_MS: positiveInt.default(30_000),
    SWEEP_INTERVAL_MS: positiveInt.default(3_600_000),
    SWEEP_GRACE_MS: z.coerce.number().int().min(0).default(3_600_000),
    MAX_UPLOAD_BYTES: positiveInt.default(20 * 1024 * 1024),
    MAX_INPUT_PIXELS: positiveInt.default(100_000_000),
    WORKER_CONCURRENCY: positiveInt.default(os.availableParallelism()),
    // Which names exist is the pipeline's stage list: the worker checks them at start (worker-queues.ts).
    WORKER_QUEUES: commaList,
    RECONCILE_INTERVAL_MS: positiveInt.default(5_000),
    STALE_FLOW_AFTER_MS: positiveInt.default(60_000),
    JOB_LOCK_DURATION_MS: positiveInt.default(30_000),
    WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
    WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    METRICS_TOKEN: z.string().optional(),
    // Empty counts as unset: compose's `${WEBHOOK_SECRET:-}` passes an empty string when the host has none.
    WEBHOOK_SECRET: z.preprocess(
      (value) => (value === '' ? undefined : value),
      z.string().regex(/^whsec_[A-Za-z0-9+/=]+$/, 'expected whsec_ followed by base64').optional(),
    ),
    WEBHOOK_ALLOW_PRIVATE: booleanFlag,
    WEBHOOK_TIMEOUT_MS: positiveInt.default(10_000),
    WEBHOOK_ATTEMPTS: positiveInt.min(5).default(8),
    WEBHOOK_BACKOFF_MS: positiveInt.default(2_000),
    MODERATION_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
    MODERATION_FAIL_MODE: z.enum(['open', 'closed']).default('open'),
    MODERATION_TIMEOUT_MS: positiveInt.default(10_000),
    MODERATION_ATTEMPTS: positiveInt.default(4),
    CDN_PURGE_URL: z.url({ protocol: /^https?$/ }).optional(),
    CDN_PORT: z.coerce.number().int().min(1).max(65535).default(8080),
    MAX_ANIMATION_FRAMES: positiveInt.default(300),
    MAX_ANIMATION_PIXELS: positiveInt.default(150_000_000),
    ADMIN_USER: z.string().optional(),
    ADMIN_PASSWORD: z.string().optional(),
    SHUTDOWN_TIMEOUT_MS: positiveInt.default(30_000),
    TRUST_PROXY: z.string().default('false'),
    RATE_LIMIT_UPLOADS_PER_MINUTE: z.coerce.number().int().min(0).default(30),
    MAX_CONCURRENT_UPLOADS: positiveInt.default(2 * os.availableParallelism()),
  })
  .superRefine((env, ctx) => {
    if (env.STORAGE_DRIVER !== 's3') return;
    for (const key of ['S3_BUCKET'] as const) {
      if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: `${key} is required when STORAGE_DRIVER=s3` });
    }
  })
  .superRefine((env, ctx) => {
    const problem = clusterQueuePrefixProblem(env.QUEUE_PREFIX, env.REDIS_CLUSTER_NODES);
    if (problem) ctx.addIssue({ code: 'custom', path: ['QUEUE_PREFIX'], message: problem });
  });

export type Env = z.infer<typeof envSchema>;
