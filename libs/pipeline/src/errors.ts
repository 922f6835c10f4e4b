import { AppError, UnavailableError } from '@renditions/errors';

/**
 * Anything that is not already one of ours and looks like a dependency failure (connection refused, timeout,
 * PostgreSQL unavailable) becomes a 503 with Retry-After instead of a generic 500.
 */
export function asDependencyError(error: unknown, dependency: string): unknown {
  if (error instanceof AppError) return error;
  return causeChain(error).some(isConnectionFailure)
    ? new UnavailableError(`${dependency} is unavailable, try again shortly`, 5, { cause: error })
    : error;
}

/** Query builders wrap the driver's error (drizzle's "Failed query"), so the cause chain is searched. */
function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current && chain.length < 5; current = (current as { cause?: unknown }).cause) {
    chain.push(current);
  }
  return chain;
}

function isConnectionFailure(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code ?? '';
  const message = error instanceof Error ? error.message : String(error);
  return (
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|CONNECT_TIMEOUT|CONNECTION_CLOSED|CONNECTION_ENDED|CONNECTION_DESTROYED)$/.test(
      code,
    ) ||
    /^(57P0[1-3]|53300|08\d{3})$/.test(code) ||
    /connect|timeout|Connection is closed|Stream isn't writeable/i.test(message)
  );
}
