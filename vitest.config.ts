import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { cacheDir } from './testbed/runtime';

// Three projects, run one after the other by `npm test`: pure unit tests first, without waiting for
// the testbed; then everything that needs the real parts, five files at a time; last, the few tests
// that take the whole shared cluster for themselves (filling every node), alone.
export default defineConfig({
  // Outside the checkout, beside the testbed's builds: vitest keeps each file's last duration
  // there and starts the longest files first, so a fresh clone's run does not end on a long file
  // started last.
  cacheDir: join(cacheDir, 'vite'),
  test: {
    pool: 'forks',
    // Five files at a time, on two cores: the files that need the testbed mostly wait on it
    // (controllers, timers, rollouts). With Shipyard's processes started from the build, three at
    // a time left a third of the CPU idle; five took the integration project from 296 s to 246 s.
    // Each file isolates itself (own task queue, own slugs). Sharing processes between files
    // (isolate: false) was tried: forks hung at the end of a run.
    maxWorkers: 5,
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
          // Files that take the whole testbed (filling every node, removing every orphan): nothing
          // may run beside them, nor beside each other (npm test passes --no-file-parallelism).
          include: ['test/exclusive/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
