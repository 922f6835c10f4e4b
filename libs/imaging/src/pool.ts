/**
 * Runs tasks in the given order with at most `limit` in flight. On the first failure no new task starts; the
 * ones in flight are awaited (so nothing keeps writing after we return) and then the first error is thrown.
 * @throws the first error a task threw
 */
export async function runWithConcurrency(tasks: ReadonlyArray<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (!failure && next < tasks.length) {
      const task = tasks[next++]!;
      try {
        await task();
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const lanes = Math.max(1, Math.min(Math.floor(limit) || 1, tasks.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  if (failure) throw failure.error;
}
