import { defineConfig } from 'vitest/config';

// Three projects, run one after the other by `npm test`: pure unit tests first, without waiting for
// the testbed; then everything that needs the real parts, two files at a time; last, the few tests
// that take the whole shared cluster for themselves (filling every node), alone.
export default defineConfig({
  test: {
    pool: 'forks',
    // Two cores: files run two at a time; each file isolates itself (own task queue, own slugs).
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**', 'test/exclusive/**'],
          // One testbed for the whole run, brought up by the same code as `npm run infra:up`.
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'exclusive',
          // One file: it fills the cluster, so nothing may run beside it.
          include: ['test/exclusive/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
