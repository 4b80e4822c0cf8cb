// Activity proxies with the timeouts and retry policy each kind of step needs. Type-only
// import: the activities' Node code never enters the workflow bundle.
import { ActivityCancellationType, type ActivityOptions, patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { clusterActivityNames } from '../domain/cluster-activities';
import type { Placement } from '../domain/clusters';
import type { OperationSettings } from '../domain/operation-kinds';

// Transient faults (API server restarting, a dropped connection) are retried for a while;
// permanent ones are thrown as non-retryable by the activities and fail the step at once.
const retry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '20s' } as const;

// A cancel waits until the activity has really stopped: with the default (TRY_CANCEL) the
// workflow would hear "cancelled" at once while the activity still runs, and its compensation
// could run before the activity's late side effect (a database, a namespace, a DNS record, an
// applied spec) lands — and so leave it behind.
const cancellationType = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;

// Finish what is started before starting more. Task queues are first in, first out: with a
// fleet provisioned at once, every operation's next step queues behind every other's current one,
// and all of them finish together, late. Scheduling a step's activities at a priority that rises
// with its place in the runbook (the first step lowest, the last and every undo highest) lets an
// operation that is further along overtake those behind it: the first of many is ready in about
// the time of one alone, and the fleet as a whole is no slower.
export const LOWEST_PRIORITY = 5;
export const HIGHEST_PRIORITY = 1;
let priorityNow: number | undefined;

/**
 * Runs `start` with the activities it schedules synchronously (before its first await) at
 * `priorityKey`. Synchronous set and restore: no other workflow code runs in between.
 */
export function atPriority<T>(priorityKey: number, start: () => T): T {
  const before = priorityNow;
  priorityNow = priorityKey;
  try {
    return start();
  } finally {
    priorityNow = before;
  }
}

/** Step `index` of `count`: from LOWEST_PRIORITY for the first to HIGHEST_PRIORITY for the last. */
export function stepPriority(index: number, count: number): number {
  if (count <= 1) return HIGHEST_PRIORITY;
  return LOWEST_PRIORITY - Math.round(((LOWEST_PRIORITY - HIGHEST_PRIORITY) * index) / (count - 1));
}

/**
 * Activity stubs that schedule at the priority in force when called (the server's default outside
 * atPriority), or always at `fixed`.
 */
function prioritised(options: ActivityOptions, fixed?: number): Activities {
  const byPriority = new Map<string, Activities>();
  const stubsAt = (priorityKey: number | undefined, taskQueue: string | undefined): Activities => {
    const key = `${priorityKey}/${taskQueue}`;
    let stubs = byPriority.get(key);
    if (!stubs) {
      stubs = proxyActivities<Activities>({
        ...options,
        ...(priorityKey === undefined ? {} : { priority: { priorityKey } }),
        ...(taskQueue === undefined ? {} : { taskQueue }),
      });
      byPriority.set(key, stubs);
    }
    return stubs;
  };
  return new Proxy({} as Activities, {
    get: (_, name) => (...args: unknown[]) =>
      (stubsAt(fixed ?? priorityNow, queueFor(name)) as unknown as Record<string | symbol, (...a: unknown[]) => unknown>)[name]!(...args),
  });
}

// ---------------------------------------------------------------------------------------------
// Placement: in a multi-cluster install an operation's cluster activities run on the queue of the
// cluster its instance is placed in, served by the worker inside that cluster (its kubeconfig and
// tenant database); everything else runs here, on the central queue.

/** Activities that touch a cluster (Kubernetes, the tenant database): the cluster worker's. */
export const clusterActivities: ReadonlySet<keyof Activities> = new Set(clusterActivityNames satisfies readonly (keyof Activities)[]);

/**
 * The patch under which an operation of a placed instance sends its cluster activities to the
 * cluster's queue. Only runs started with a placement reach it (runs before multi-cluster had
 * none), so no history recorded before it changes; it marks where the behaviour began all the same.
 */
export const CLUSTER_QUEUES = 'cluster-queues';

/** The cluster queue of this run's instance (set once, when the runbook opens); undefined: the central queue. */
let clusterQueue: string | undefined;

export function placeOn(placement: Placement | undefined): void {
  clusterQueue = placement?.taskQueue;
}

/**
 * Runs `start` with the cluster activities it schedules synchronously (before its first await) on
 * `placement`'s queue instead of the instance's: a move's steps in its target cluster. Synchronous
 * set and restore, like atPriority: no other workflow code runs in between.
 */
export function onCluster<T>(placement: Placement, start: () => T): T {
  const before = clusterQueue;
  clusterQueue = placement.taskQueue;
  try {
    return start();
  } finally {
    clusterQueue = before;
  }
}

/** The queue `name` runs on in this run, or undefined for the worker's own. */
function queueFor(name: string | symbol): string | undefined {
  if (clusterQueue === undefined || typeof name !== 'string' || !clusterActivities.has(name as keyof Activities)) return undefined;
  return patched(CLUSTER_QUEUES) ? clusterQueue : undefined;
}

const quickOptions: ActivityOptions = { startToCloseTimeout: '30s', scheduleToCloseTimeout: '10m', retry, cancellationType };

/**
 * The patch under which quick calls run as local activities: inside the worker that runs the
 * workflow, their results recorded in the workflow's own next task. As activity tasks, each quick
 * call cost a round trip through the task queue and a workflow task of its own, work for the
 * Temporal server that a fleet of operations multiplies. Runs whose histories schedule them as activity tasks keep doing so
 * up to where their histories end (`patched`), so runs in flight replay.
 */
export const LOCAL_QUICK_CALLS = 'local-quick-calls';

/**
 * Quick calls: as local activities in runs that have the patch, otherwise as activity tasks at
 * the priority in force (or `fixed`). Retries, timeouts and cancellation are the same either way;
 * a worker that dies mid-call loses its workflow task, and the next worker runs the call again.
 */
function quickCalls(fixed?: number): Activities {
  const local = proxyLocalActivities<Activities>(quickOptions);
  const remote = prioritised(quickOptions, fixed);
  return new Proxy({} as Activities, {
    // A cluster activity of a placed instance runs in its cluster's worker, never locally here.
    get: (_, name) => (...args: unknown[]) =>
      ((queueFor(name) === undefined && patched(LOCAL_QUICK_CALLS) ? local : remote) as unknown as Record<string | symbol, (...a: unknown[]) => unknown>)[name]!(
        ...args,
      ),
  });
}

/** Calls that change or read one thing and return within 30 s. */
export const quick = quickCalls();

/** Quick calls that close an operation (its outcome in the catalogue): in runs without the patch, ahead of everything else. */
export const closing = quickCalls(HIGHEST_PRIORITY);

/**
 * Moving a tenant's data to or from object storage (dump and upload, download and restore,
 * checksums): long, heartbeating. Few attempts: a store that stays unreachable fails the step with
 * its reason (a scheduled backup is tried again by the next sweep), and a worker killed mid-way
 * is noticed by the heartbeat timeout and the transfer run again from the start.
 */
export const transfer = prioritised({
  startToCloseTimeout: '12h',
  // The transfers beat every second, whatever the data does: a dead worker is noticed within this.
  heartbeatTimeout: '20s',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 3 },
  cancellationType,
});

/** Waits on the outside world (rollouts, certificates, namespace deletion, DNS sync): they heartbeat. */
export function waiting(settings: OperationSettings) {
  const bound = settings.rolloutTimeoutSeconds + 60;
  return prioritised({
    startToCloseTimeout: `${bound}s`,
    scheduleToCloseTimeout: `${bound * 2}s`,
    heartbeatTimeout: '15s',
    retry,
    cancellationType,
  });
}
