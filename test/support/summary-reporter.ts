// Ends every run with one plain line, "tests: N passed, N failed", that tools outside vitest
// (CI's log reader) understand without knowing vitest's own summary format.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

// `npm test` runs the projects one after the other in separate vitest processes (unit, integration,
// exclusive); each adds its counts to a file its siblings share (keyed by the shell that runs them
// all), and the last closing line counts the whole suite.
const sequence = ['unit', 'integration', 'exclusive'];
const totalsFile = join(tmpdir(), `shipyard-test-totals-${process.ppid}.json`);

type Totals = { passed: number; failed: number; skipped: number };

export default class SummaryReporter implements Reporter {
  private label = 'tests';
  private carried: Totals = { passed: 0, failed: 0, skipped: 0 };

  onInit(vitest: { projects: { name: string }[] }): void {
    const names = vitest.projects.map((p) => p.name);
    const position = names.length === 1 ? sequence.indexOf(names[0]!) : -1;
    if (position < 0) return;
    if (position === 0) rmSync(totalsFile, { force: true });
    else if (existsSync(totalsFile)) this.carried = JSON.parse(readFileSync(totalsFile, 'utf8')) as Totals;
    this.label = position === sequence.length - 1 ? 'tests' : names[0]!;
    this.last = position === sequence.length - 1;
  }

  private last = true;

  onFinished(files: RunnerTestFile[] = [], errors: unknown[] = []): void {
    const totals = { ...this.carried };
    count(files, totals);
    // An unhandled error, or a run that found nothing to run, fails without failing a test.
    totals.failed += errors.length;
    if (files.length === 0) totals.failed += 1;
    if (this.last) rmSync(totalsFile, { force: true });
    else writeFileSync(totalsFile, JSON.stringify(totals));
    const skipped = totals.skipped > 0 ? `, ${totals.skipped} skipped` : '';
    console.log(`\n${this.label}: ${totals.passed} passed, ${totals.failed} failed${skipped}`);
  }
}
