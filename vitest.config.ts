import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Starts the throwaway PostgreSQL clusters once for the whole run and removes them at the end.
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Concurrent tests of one file share the two cores with the other files' workers.
    maxConcurrency: 3,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
