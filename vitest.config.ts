import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One PostgreSQL for the run; each file makes its own database (test/helpers/postgres.ts).
    globalSetup: ['test/global-setup.ts'],
    // libsignal prints every session it closes or replaces; that is normal Signal churn, not news.
    onConsoleLog: (log) =>
      !/^(Closing session|Closing open session|SessionEntry|Session already closed)/.test(log.trim()),
  },
});
