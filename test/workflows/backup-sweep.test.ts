// The backup sweep workflow on the real Temporal server with stubbed activities: a page of due
// instances after another, never more backups at once than its parallelism, each outcome counted,
// failures reported, retention and repair once at the end, and a big fleet continued as new with
// its place, its totals and the mark of the operations it started.
import '../support/temporal-runtime';
import { ApplicationFailure } from '@temporalio/activity';
import type { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import type { SweepBackupOutcome } from '../../activities/backup-sweep';
import { connectTemporalClient } from '../../temporal/data-converter';
import type { BackupSweepInput, BackupSweepResult } from '../../workflows/backup-sweep';
import { createWorker } from '../../worker/index';
import { recordingActivities } from '../support/activity-names';
import { prebuiltWorkflowBundle } from '../support/build';
import { testConfig, uniqueSuffix } from '../support/config';

const config = testConfig({ SHIPYARD_TASK_QUEUE: `backup-sweep-${uniqueSuffix()}` });
let connection: Connection;
let client: Client;

beforeAll(async () => {
  ({ client, connection } = await connectTemporalClient(config));
});
afterAll(async () => {
  await connection?.close();
});

const stubbed: (keyof Activities)[] = ['backupSweepBegins', 'instancesDueForBackup', 'backupForSweep', 'expireBackups', 'repairBackups'];
const SINCE = '2026-03-31T12:00:00.000Z';

/** A fleet of `count` due instances (ids in order), whose backups answer `outcome(slug)` after a little while. */
async function sweepOver(count: number, input: BackupSweepInput, outcome: (slug: string) => SweepBackupOutcome | 'throw') {
  const fleet = Array.from({ length: count }, (_, i) => ({ id: `ins_${String(i).padStart(4, '0')}`, slug: `i-${i}` }));
  let inFlight = 0;
  let most = 0;
  const { activities, calls } = recordingActivities(stubbed, {
    backupSweepBegins: async () => SINCE,
    instancesDueForBackup: async (page: { after?: string; limit: number }) => fleet.filter((i) => !page.after || i.id > page.after).slice(0, page.limit),
    backupForSweep: async (_workflowId: string, slug: string) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      try {
        await new Promise((r) => setTimeout(r, 5));
        const answer = outcome(slug);
        if (answer === 'throw') throw ApplicationFailure.nonRetryable('catalogue unreachable', 'Test');
        return answer;
      } finally {
        inFlight -= 1;
      }
    },
    expireBackups: async () => 4,
    repairBackups: async () => 2,
  });
  const { worker, connection: workerConnection } = await createWorker(config, activities, { workflowBundle: prebuiltWorkflowBundle });
  try {
    const handle = await client.workflow.start('backupSweep', { workflowId: `backup-sweep-${uniqueSuffix()}`, taskQueue: config.taskQueue, args: [input] });
    const result = (await worker.runUntil(handle.result())) as BackupSweepResult;
    // The run that returned is not the one started when the sweep continued as new.
    const continued = (await handle.describe()).runId !== handle.firstExecutionRunId;
    return { result, calls, most, continued };
  } finally {
    await workerConnection.close();
  }
}

describe('backup sweep', () => {
  it('backs up every due instance, at most `parallelism` at once, counts each outcome and reports the failures', async () => {
    const outcome = (slug: string): SweepBackupOutcome | 'throw' => {
      const n = Number(slug.slice(2));
      if (n === 3) return { status: 'failed', operationId: 'op_3', error: 'S3 unreachable' };
      if (n === 5) return { status: 'busy', error: 'an upgrade runs' };
      if (n === 7) return { status: 'refused', error: 'no longer due' };
      if (n === 9) return 'throw';
      return { status: 'succeeded', operationId: `op_${n}` };
    };
    const { result, calls, most } = await sweepOver(23, { parallelism: 3, plans: ['p'] }, outcome);
    expect(result).toEqual({
      due: 23,
      started: 20, // 19 succeeded + the one whose operation failed
      succeeded: 19,
      failed: 2,
      busy: 1,
      expired: 4,
      repaired: 2,
      failures: [
        { slug: 'i-3', error: 'S3 unreachable', operationId: 'op_3' },
        { slug: 'i-9', error: 'catalogue unreachable' },
      ],
    });
    expect(most).toBe(3);
    // Pages of parallelism × 5, in id order, within the plans it was given.
    expect(calls.filter((c) => c.name === 'instancesDueForBackup').map((c) => c.args[0])).toEqual([
      { limit: 15, plans: ['p'] },
      { after: 'ins_0014', limit: 15, plans: ['p'] },
      { after: 'ins_0022', limit: 15, plans: ['p'] },
    ]);
    // Every backup carries the sweep's mark; retention and repair run once, after the backups, in scope.
    expect(new Set(calls.filter((c) => c.name === 'backupForSweep').map((c) => c.args[2]))).toEqual(new Set([SINCE]));
    expect(calls.filter((c) => c.name === 'backupForSweep')).toHaveLength(23);
    const names = calls.map((c) => c.name);
    expect(names.slice(-2)).toEqual(['expireBackups', 'repairBackups']);
    expect(calls.at(-1)!.args).toEqual([{ plans: ['p'] }]);
  });

  it('continues a big fleet as new, carrying its place, totals and mark: each instance once, the mark taken once', async () => {
    const { result, calls, continued } = await sweepOver(115, { parallelism: 2 }, (slug) => ({ status: 'succeeded', operationId: `op_${slug}` }));
    expect(result).toMatchObject({ due: 115, started: 115, succeeded: 115, failed: 0, expired: 4, repaired: 2, failures: [] });
    expect(continued).toBe(true);
    const slugs = calls.filter((c) => c.name === 'backupForSweep').map((c) => c.args[1]);
    expect(new Set(slugs).size).toBe(115);
    expect(slugs).toHaveLength(115);
    expect(calls.filter((c) => c.name === 'backupSweepBegins')).toHaveLength(1);
    expect(new Set(calls.filter((c) => c.name === 'backupForSweep').map((c) => c.args[2]))).toEqual(new Set([SINCE]));
    // Whole fleet: no plans in scope.
    expect(calls.at(-1)!.args).toEqual([{}]);
  });

  it('finds nothing due: starts nothing, still lets go what retention allows and repairs', async () => {
    const { result, calls } = await sweepOver(0, { parallelism: 4 }, () => ({ status: 'succeeded', operationId: 'x' }));
    expect(result).toEqual({ due: 0, started: 0, succeeded: 0, failed: 0, busy: 0, expired: 4, repaired: 2, failures: [] });
    expect(calls.map((c) => c.name)).toEqual(['backupSweepBegins', 'instancesDueForBackup', 'expireBackups', 'repairBackups']);
  });
});
