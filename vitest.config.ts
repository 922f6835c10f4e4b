import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['libs/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // sharp and BullMQ workers are happier in child processes than in worker threads.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Ends the processes the tests started and drops the databases and Redis keys they created, also after failures.
    globalSetup: ['test/support/global-teardown.ts'],
    teardownTimeout: 60_000,
  },
});
