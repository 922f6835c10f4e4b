import { z } from 'zod';
import { ConfigError } from './config';

/**
 * The queues a worker process serves: WORKER_QUEUES checked against the product's queues (the pipeline's stage list
 * names them, so the worker passes them in), in the product's order; every queue when WORKER_QUEUES is unset.
 * @throws {ConfigError} naming each unknown queue and listing the known ones
 * @example selectWorkerQueues(['render-avif'], QUEUE_NAMES) // ['render-avif']
 */
export function selectWorkerQueues<Name extends string>(configured: readonly string[] | null, known: readonly Name[]): Name[] {
  if (configured === null) return [...known];
  const names = z.array(
    z.enum(known as readonly [Name, ...Name[]], {
      error: (issue) => `unknown queue "${String(issue.input)}"; expected a comma-separated list of ${known.join(', ')}`,
    }),
  );
  const parsed = names.safeParse(configured);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `WORKER_QUEUES: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return known.filter((name) => parsed.data.includes(name));
}
