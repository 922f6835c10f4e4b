import pTimeout from 'p-timeout';
import { StorageUnavailableError } from './errors';

export const DEFAULT_TIMEOUT_MS = 30_000;

/** A readiness probe must answer before the orchestrator gives up on it, whatever the call deadline is. */
export const PING_TIMEOUT_MS = 2_000;

export interface DeadlineOptions {
  /** How long one storage call may take before it fails with StorageUnavailableError. */
  timeoutMs?: number;
}

/**
 * Runs one storage call under a deadline. Past it the call rejects with StorageUnavailableError naming
 * `operation` and `key`, and `signal` aborts so the work itself stops (sockets closed, temp files dropped).
 * The signal only fires if the call is still pending: a stream handed out in time keeps flowing.
 * @example await withDeadline(2000, 'put', 'assets/x/original', (signal) => write(signal));
 */
export function withDeadline<T>(
  timeoutMs: number,
  operation: string,
  key: string | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const call = key === undefined ? operation : `${operation} "${key}"`;
  return pTimeout(work(controller.signal), {
    milliseconds: timeoutMs,
    fallback: () => {
      controller.abort();
      throw new StorageUnavailableError(`Storage did not answer within ${timeoutMs} ms (${call})`);
    },
  });
}
