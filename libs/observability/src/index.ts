export { decideLogFormat, type LogFormat } from './log-format';
export { createLogger, type Logger, type LoggerOptions } from './logger';
export { createMetrics, type Metrics, type MetricsOptions, type QueueDepth } from './metrics';
export { metricsAuthorized, startMetricsServer, type RunningMetricsServer } from './metrics-server';
