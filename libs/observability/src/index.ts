export { createLogger, type Logger } from './logger';
export { createMetrics, type Metrics, type MetricsOptions, type QueueDepth } from './metrics';
export { metricsAuthorized, startMetricsServer, type RunningMetricsServer } from './metrics-server';
