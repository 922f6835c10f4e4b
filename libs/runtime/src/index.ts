import type { Logger } from '@renditions/observability';

/**
 * Stops a process cleanly on SIGTERM/SIGINT: `stop` finishes work in flight (uploads, jobs); past the timeout
 * the process exits anyway, and whatever jobs it still held are handed back when their locks expire.
 */
export function stopOnSignals(options: { logger: Logger; timeoutMs: number; stop: () => Promise<void> }): void {
  const { logger, timeoutMs, stop } = options;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'finishing work in flight, then stopping');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs }, 'graceful shutdown timed out');
      process.exit(1);
    }, timeoutMs);
    deadline.unref();
    try {
      await stop();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
