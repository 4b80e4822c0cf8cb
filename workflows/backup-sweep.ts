// The backup sweep, run by the fleet-wide `shipyard-backups` schedule: backs up the instances that
// are due (a backup operation each, a bounded number at a time, a page of instances after
// another), then lets go what retention allows, then repairs rows and objects that disagree.
// A big fleet continues as new between pages, carrying its place and totals. A backup that fails
// is reported (in the result and the log); its instance is still due, so the next sweep tries again.
import { ActivityFailure, ContinueAsNew, continueAsNew, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { SweepBackupOutcome } from '../activities/backup-sweep';
import { slidingWindow } from './sliding-window';

const bookkeeping = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

// One instance's backup: starts the operation and waits for its end, heartbeating. Safe to retry
// (it finds the operation it started); a backup of hours is still within the timeout.
const { backupForSweep } = proxyActivities<Activities>({
  startToCloseTimeout: '24h',
  heartbeatTimeout: '2m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

// Retention and repair walk the catalogue and the bucket, heartbeating their place.
const housekeeping = proxyActivities<Activities>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '2m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 3 },
});

export interface BackupSweepTotals {
  /** Instances found due. */
  due: number;
  /** Backup operations this sweep started (succeeded + failed). */
  started: number;
  succeeded: number;
  failed: number;
  /** Due, but another operation ran on the instance: left for the next sweep. */
  busy: number;
  /** Backups let go by retention. */
  expired: number;
  /** Rows and objects put back in agreement (see repairBackups). */
  repaired: number;
}

export const noBackupSweepTotals: BackupSweepTotals = { due: 0, started: 0, succeeded: 0, failed: 0, busy: 0, expired: 0, repaired: 0 };

export interface BackupSweepFailure {
  slug: string;
  error: string;
  operationId?: string;
}

export interface BackupSweepResult extends BackupSweepTotals {
  /** The backups that failed (the first MAX_FAILURES of them; `failed` counts all). */
  failures: BackupSweepFailure[];
}

export interface BackupSweepInput {
  /** Backups run at once (SHIPYARD_BACKUP_PARALLELISM). */
  parallelism: number;
  /** Only instances on these plans (a test's own plan); the whole fleet when unset. */
  plans?: string[];
  /** Carried across continue-as-new: when the sweep began (the catalogue's clock), which marks the operations it started. */
  since?: string;
  /** The last instance id the run before looked at. */
  after?: string;
  totals?: BackupSweepTotals;
  failures?: BackupSweepFailure[];
}

/** Pages per run before continuing as new, unless Temporal suggests it sooner. */
const PAGES_PER_RUN = 10;
const MAX_FAILURES = 50;

export async function backupSweep(input: BackupSweepInput): Promise<BackupSweepResult> {
  const { workflowId } = workflowInfo();
  const parallelism = Math.max(1, input.parallelism);
  const scope = input.plans ? { plans: input.plans } : {};
  const totals: BackupSweepTotals = { ...noBackupSweepTotals, ...input.totals };
  const failures: BackupSweepFailure[] = [...(input.failures ?? [])];
  const since = input.since ?? (await bookkeeping.backupSweepBegins());
  try {
    let after = input.after;
    for (let page = 0; ; page++) {
      if (page >= PAGES_PER_RUN || workflowInfo().continueAsNewSuggested) {
        return await continueAsNew<typeof backupSweep>({ ...input, since, after, totals, failures });
      }
      const due = await bookkeeping.instancesDueForBackup({ ...(after ? { after } : {}), limit: parallelism * 5, ...scope });
      if (due.length === 0) break;
      totals.due += due.length;
      await slidingWindow(due, parallelism, async ({ slug }) => {
        const outcome = await backUpOne(workflowId, slug, since);
        count(totals, outcome);
        if (outcome.status === 'failed') {
          log.warn('scheduled backup failed', { slug, error: outcome.error, operationId: outcome.operationId });
          if (failures.length < MAX_FAILURES) failures.push({ slug, error: outcome.error, ...(outcome.operationId ? { operationId: outcome.operationId } : {}) });
        } else if (outcome.status === 'refused') {
          log.info('scheduled backup not started', { slug, reason: outcome.error });
        }
      });
      after = due.at(-1)!.id;
    }
    totals.expired += await housekeeping.expireBackups(scope);
    totals.repaired += await housekeeping.repairBackups(scope);
  } catch (err) {
    // continueAsNew throws to end this run: that is not a failure of the sweep.
    if (!(err instanceof ContinueAsNew)) log.error('backup sweep failed', { ...totals, error: String(err) });
    throw err;
  }
  log.info('backup sweep done', { ...totals });
  return { ...totals, failures };
}

async function backUpOne(sweepWorkflowId: string, slug: string, since: string): Promise<SweepBackupOutcome> {
  try {
    return await backupForSweep(sweepWorkflowId, slug, since);
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    // The activity itself gave up (the catalogue or Temporal unreachable): the instance stays due.
    return { status: 'failed', error: err.cause?.message ?? err.message };
  }
}

function count(totals: BackupSweepTotals, outcome: SweepBackupOutcome): void {
  if (outcome.status === 'succeeded') {
    totals.started += 1;
    totals.succeeded += 1;
  } else if (outcome.status === 'failed') {
    if (outcome.operationId) totals.started += 1;
    totals.failed += 1;
  } else if (outcome.status === 'busy') {
    totals.busy += 1;
  }
}
