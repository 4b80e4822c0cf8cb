// Ends every run with one plain line, "tests: N passed, N failed", that tools outside vitest
// (CI's log reader) understand without knowing vitest's own summary format.
import type { Reporter, RunnerTask, RunnerTestFile } from 'vitest';

function count(tasks: RunnerTask[], totals: { passed: number; failed: number; skipped: number }): void {
  for (const task of tasks) {
    if (task.type === 'suite') {
      count(task.tasks, totals);
      // A file that failed to load is a suite with no tests in it.
      if (task.result?.state === 'fail' && task.tasks.length === 0) totals.failed += 1;
      continue;
    }
    const state = task.result?.state;
    if (state === 'pass') totals.passed += 1;
    else if (state === 'fail') totals.failed += 1;
    else totals.skipped += 1;
  }
}

export default class SummaryReporter implements Reporter {
  private label = 'tests';

  onInit(vitest: { projects: { name: string }[] }): void {
    // `npm test` runs the unit project on its own first; the closing line of the whole suite is the last one.
    const names = vitest.projects.map((p) => p.name);
    if (names.length === 1 && names[0] === 'unit') this.label = 'unit';
  }

  onFinished(files: RunnerTestFile[] = [], errors: unknown[] = []): void {
    const totals = { passed: 0, failed: 0, skipped: 0 };
    count(files, totals);
    // An unhandled error, or a run that found nothing to run, fails without failing a test.
    totals.failed += errors.length;
    if (files.length === 0) totals.failed += 1;
    const skipped = totals.skipped > 0 ? `, ${totals.skipped} skipped` : '';
    console.log(`\n${this.label}: ${totals.passed} passed, ${totals.failed} failed${skipped}`);
  }
}
