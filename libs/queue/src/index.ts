export {
  stageJobId,
  cleanupJobId,
  type AssetJobData,
  type CleanupJobData,
  type WebhookJobData,
  type JobOutcome,
  type ProcessorFn,
} from './jobs';
export { assetFlow, planFlow, type FlowStage } from './flow';
export { createRedisConnection } from './connection';
export { QueueClient, QueueUnavailableError, type QueueClientOptions, type WebhookRetryPolicy } from './producer';
export { startWorkers, type WorkerPool, type WorkerPoolOptions } from './workers';
export { UnrecoverableError, type Job } from 'bullmq';
