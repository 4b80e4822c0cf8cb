// The health sweep: settles operations whose runs closed without a result (the same reconcile
// the `shipyard-reconcile` schedule runs), then checks every `ready` and `suspended` instance, a
// bounded number at a time, each check an activity that also heals, and last removes orphans
// when SHIPYARD_ORPHAN_CLEANUP=true. A big fleet continues as new
// between pages, carrying its place and totals, so no run's history grows without bound.
// In a multi-cluster install an instance placed in a cluster is checked by that cluster's own
// worker (the only one that sees its objects); one whose cluster is offline is reported as such by
// the central check, without looking.
import { ActivityFailure, ContinueAsNew, continueAsNew, patched, proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { InstanceHealth } from '../activities/health';
import { noTotals, type SweepTotals } from '../domain/health';
import { slidingWindow } from './sliding-window';

const bookkeeping = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

const { reconcileRunningOperations } = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '5s', maximumAttempts: 3 },
});

// Looking for orphans lists namespaces, DNS records and roles; removing an orphan namespace waits until it is gone (heartbeating); a DNS record until INSYNC.
const orphans = proxyActivities<Activities>({
  startToCloseTimeout: '30m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumAttempts: 3 },
});

// A check reads a dozen objects and may re-apply some (a DNS heal waits for INSYNC); a check that
// keeps failing counts as an error of the sweep rather than holding it up.
const checkOptions: ActivityOptions = {
  startToCloseTimeout: '5m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumAttempts: 3 },
};
const { checkInstanceHealth } = proxyActivities<Activities>(checkOptions);

/**
 * The patch under which each instance's check runs on the queue of the cluster it is placed in.
 * Runs from before it listed bare ids and checked everything here, and keep doing so on replay.
 */
export const HEALTH_CHECKS_IN_CLUSTER = 'health-checks-in-cluster';

const checksByQueue = new Map<string, Activities['checkInstanceHealth']>();
/**
 * The check, on a cluster's queue. A cluster that goes offline after the page was listed leaves
 * its check unstarted: given up after a minute in the queue (not retried), counted as an error,
 * so the sweep is not held up for long; the next sweep reports the cluster offline.
 */
function checkOn(taskQueue: string): Activities['checkInstanceHealth'] {
  let check = checksByQueue.get(taskQueue);
  if (!check) {
    check = proxyActivities<Activities>({ ...checkOptions, taskQueue, scheduleToStartTimeout: '1m' }).checkInstanceHealth;
    checksByQueue.set(taskQueue, check);
  }
  return check;
}

export interface SweepInput {
  parallelism: number;
  /** Set by the API (which records the sweep before starting it) and carried across continue-as-new. */
  sweepId?: string;
  /** The last instance id checked by the run before (continue-as-new). */
  after?: string;
  totals?: SweepTotals;
}

/** Pages per run before continuing as new, unless Temporal suggests it sooner. */
const PAGES_PER_RUN = 10;

export async function healthSweep(input: SweepInput): Promise<SweepTotals> {
  const sweepId = input.sweepId ?? (await bookkeeping.openSweep(workflowInfo().workflowId));
  const totals: SweepTotals = { ...(input.totals ?? noTotals) };
  const parallelism = Math.max(1, input.parallelism);
  try {
    if (input.after === undefined) {
      try {
        await reconcileRunningOperations();
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        totals.errors += 1;
      }
    }
    let after = input.after;
    for (let page = 0; ; page++) {
      if (page >= PAGES_PER_RUN || workflowInfo().continueAsNewSuggested) {
        await bookkeeping.updateSweep(sweepId, totals);
        return await continueAsNew<typeof healthSweep>({ parallelism, sweepId, after, totals });
      }
      const batch = patched(HEALTH_CHECKS_IN_CLUSTER)
        ? await bookkeeping.instancesToCheckWithQueues(after, parallelism * 5)
        : (await bookkeeping.instancesToCheck(after, parallelism * 5)).map((id) => ({ id, taskQueue: undefined }));
      if (batch.length === 0) break;
      await slidingWindow(batch, parallelism, async ({ id, taskQueue }) => count(totals, await checkOne(id, taskQueue)));
      after = batch.at(-1)!.id;
      await bookkeeping.updateSweep(sweepId, totals);
    }
    try {
      await orphans.sweepOrphans(sweepId);
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      totals.errors += 1;
    }
    await bookkeeping.updateSweep(sweepId, totals, 'succeeded');
    return totals;
  } catch (err) {
    // continueAsNew throws to end this run: that is not a failure of the sweep.
    if (err instanceof ContinueAsNew) throw err;
    await bookkeeping.updateSweep(sweepId, totals, 'failed');
    throw err;
  }
}

/** Checks (and heals) one instance now: `POST /v1/instances/{idOrSlug}/health/check`. */
export async function checkInstanceNow(instanceId: string): Promise<InstanceHealth | null> {
  if (patched(HEALTH_CHECKS_IN_CLUSTER)) {
    const taskQueue = await bookkeeping.healthCheckQueueOf(instanceId);
    if (taskQueue !== undefined) return checkOn(taskQueue)(instanceId);
  }
  return checkInstanceHealth(instanceId);
}

async function checkOne(id: string, taskQueue: string | undefined): Promise<InstanceHealth | null | 'error'> {
  try {
    return await (taskQueue === undefined ? checkInstanceHealth(id) : checkOn(taskQueue)(id));
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    return 'error';
  }
}

function count(totals: SweepTotals, result: InstanceHealth | null | 'error'): void {
  if (result === null) return;
  totals.checked += 1;
  if (result === 'error') {
    totals.errors += 1;
    return;
  }
  if (result.healed) totals.healed += 1;
  if (result.health === 'healthy') totals.healthy += 1;
  else if (result.health === 'degraded') totals.degraded += 1;
  else if (result.health === 'unhealthy') totals.unhealthy += 1;
}
