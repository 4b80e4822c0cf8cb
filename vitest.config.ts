import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One testbed for the whole run, brought up by the same code as `npm run infra:up`.
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    // Two cores: files run two at a time; each file isolates itself (own task queue, own slugs).
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 300_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
