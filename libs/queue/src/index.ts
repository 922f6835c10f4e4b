export { QUEUE_NAMES, FLOW_TREE, RENDER_QUEUE_FORMATS, type QueueName } from './names';
export { jobIdFor, type AssetJobData, type WebhookJobData, type JobDataMap, type JobOutcome, type ProcessorFn, type ProcessorMap } from './jobs';
export { assetFlow, webhookJobOptions, type AssetFlowOptions, type WebhookRetryPolicy } from './flow';
export { createRedisConnection } from './connection';
export { QueueClient, QueueUnavailableError, type QueueClientOptions } from './producer';
export { startWorkers, type WorkerPool, type WorkerPoolOptions } from './workers';
export { UnrecoverableError, type Job } from 'bullmq';
