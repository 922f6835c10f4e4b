import type { z } from 'zod';
import { InvalidRequestError } from '@renditions/errors';

/**
 * A JSON body checked against its schema.
 * @throws {InvalidRequestError} naming every problem, e.g. `verdict: Invalid option: expected one of "allow"|"reject"|"review"`
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => (issue.path.length ? `${issue.path.join('.')}: ` : '') + issue.message);
    throw new InvalidRequestError(problems.join('; '));
  }
  return parsed.data;
}
