export { loadConfig, ConfigError, type Config, type S3Config } from './config';
export { selectWorkerQueues } from './worker-queues';
