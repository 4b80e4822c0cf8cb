// The credential rotation sweep, run daily by the `shipyard-rotate-credentials` schedule (only
// when SHIPYARD_ROTATE_AFTER_DAYS is set): rotates the credentials of the instances whose
// credentials are older than that, a rotate_credentials operation each, a bounded number at a time
// (each is a rolling restart), a page of instances after another, continuing as new on a big
// fleet. A rotation that fails is reported; its instance is still due, so the next sweep tries again.
import { ActivityFailure, ContinueAsNew, continueAsNew, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RotationSweepOutcome } from '../activities/credentials';
import { slidingWindow } from './sliding-window';

const bookkeeping = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

// One instance's rotation: starts the operation and waits for its end (a rollout, or two when it
// rolls back), heartbeating. Safe to retry: it finds the operation it started.
const { rotateCredentialsForSweep } = proxyActivities<Activities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '2m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

export interface RotationSweepTotals {
  due: number;
  succeeded: number;
  /** Rotations that failed or were rolled back (the instance stays due). */
  failed: number;
  /** Due, but another operation ran on the instance: left for the next sweep. */
  busy: number;
}

export interface RotationSweepInput {
  /** Rotate the credentials of instances whose credentials are at least this many days old (SHIPYARD_ROTATE_AFTER_DAYS). */
  olderThanDays: number;
  /** Rotations run at once. */
  parallelism: number;
  /** Only instances on these plans (a test's own plan); the whole fleet when unset. */
  plans?: string[];
  /** Carried across continue-as-new. */
  since?: string;
  after?: string;
  totals?: RotationSweepTotals;
  failures?: { slug: string; error: string; operationId?: string }[];
}

export interface RotationSweepResult extends RotationSweepTotals {
  failures: { slug: string; error: string; operationId?: string }[];
}

const PAGES_PER_RUN = 10;
const MAX_FAILURES = 50;

export async function credentialRotationSweep(input: RotationSweepInput): Promise<RotationSweepResult> {
  const { workflowId } = workflowInfo();
  const parallelism = Math.max(1, input.parallelism);
  const totals: RotationSweepTotals = { due: 0, succeeded: 0, failed: 0, busy: 0, ...input.totals };
  const failures = [...(input.failures ?? [])];
  const since = input.since ?? (await bookkeeping.rotationSweepBegins());
  try {
    let after = input.after;
    for (let page = 0; ; page++) {
      if (page >= PAGES_PER_RUN || workflowInfo().continueAsNewSuggested) {
        return await continueAsNew<typeof credentialRotationSweep>({ ...input, since, after, totals, failures });
      }
      const due = await bookkeeping.instancesDueForRotation({
        olderThanDays: input.olderThanDays,
        limit: parallelism * 5,
        ...(after ? { after } : {}),
        ...(input.plans ? { plans: input.plans } : {}),
      });
      if (due.length === 0) break;
      totals.due += due.length;
      await slidingWindow(due, parallelism, async ({ slug }) => {
        const outcome = await rotateOne(workflowId, slug, since, input.olderThanDays);
        if (outcome.status === 'succeeded') totals.succeeded += 1;
        else if (outcome.status === 'busy') totals.busy += 1;
        else if (outcome.status === 'failed') {
          totals.failed += 1;
          log.warn('scheduled credential rotation failed', { slug, error: outcome.error, operationId: outcome.operationId });
          if (failures.length < MAX_FAILURES) failures.push({ slug, error: outcome.error ?? 'failed', ...(outcome.operationId ? { operationId: outcome.operationId } : {}) });
        }
      });
      after = due.at(-1)!.id;
    }
  } catch (err) {
    if (!(err instanceof ContinueAsNew)) log.error('credential rotation sweep failed', { ...totals, error: String(err) });
    throw err;
  }
  log.info('credential rotation sweep done', { ...totals });
  return { ...totals, failures };
}

async function rotateOne(sweepWorkflowId: string, slug: string, since: string, olderThanDays: number): Promise<RotationSweepOutcome> {
  try {
    return await rotateCredentialsForSweep(sweepWorkflowId, slug, since, olderThanDays);
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    return { status: 'failed', error: err.cause?.message ?? err.message };
  }
}
