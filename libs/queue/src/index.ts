export {
  stageJobId,
  cleanupJobId,
  isReprocessJob,
  reprocessJobId,
  type AssetJobData,
  type ReprocessJobData,
  type StageJobData,
  type CleanupJobData,
  type WebhookJobData,
  type JobOutcome,
  type ProcessorFn,
} from './jobs';
export { assetFlow, planFlow, type FlowStage } from './flow';
export { createRedisConnection, type RedisTarget } from './connection';
export { QueueClient, QueueUnavailableError, type QueueClientOptions, type WebhookRetryPolicy } from './producer';
export { startWorkers, type WorkerPool, type WorkerPoolOptions } from './workers';
export { UnrecoverableError, type Job } from 'bullmq';
