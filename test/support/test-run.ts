import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

/**
 * The environment variable that marks every process the tests start. Its value is the run id the global setup
 * (test/support/global-teardown.ts) creates; the teardown kills whatever still carries `MARKER=<that id>`.
 */
export const TEST_RUN_MARKER = 'RENDITIONS_TEST_RUN';

declare module 'vitest' {
  export interface ProvidedContext {
    renditionsTestRun: string;
  }
}

/** This run's id, or undefined outside a vitest run with the global setup (then nothing is marked). */
export function testRunId(): string | undefined {
  try {
    return inject('renditionsTestRun') || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The marker to spread into a child's environment, so the global teardown can find and end it (and whatever it
 * launches with its environment) even when the test that started it failed: `env: { ...process.env, ...testChildEnv() }`.
 */
export function testChildEnv(): Record<string, string> {
  const id = testRunId();
  return id ? { [TEST_RUN_MARKER]: id } : {};
}

/**
 * The part of this run's id that names every database and queue prefix its tests create, so the global teardown
 * removes this run's leftovers only, never those of a run going on beside it.
 */
export function testRunTag(): string {
  return testRunId()?.split('-').pop() ?? 'solo';
}

/** A database name of this run's own: `renditions_test_<run tag>_<random>`. */
export function throwawayDatabaseName(): string {
  return `renditions_test_${testRunTag()}_${randomBytes(6).toString('hex')}`;
}

/** A queue prefix of this run's own (with the hash tag Redis Cluster needs): `{test-<run tag>-<random>}`. */
export function throwawayQueuePrefix(): string {
  return `{test-${testRunTag()}-${randomBytes(6).toString('hex')}}`;
}
