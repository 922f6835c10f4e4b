export { loadConfig, ConfigError, type Config, type S3Config } from './config';
export type { RedisNode } from './redis-cluster';
export { selectWorkerQueues } from './worker-queues';
