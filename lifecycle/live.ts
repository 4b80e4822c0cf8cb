// Reading operations and instances as they are now: a finished row is the truth; a running one is
// reconciled with Temporal, and while its run is running its steps come live from the workflow,
// with what the activity in flight is retrying or waiting for.
import type { WorkflowExecutionDescription } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import protos from '@temporalio/proto';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { isClusterActivity } from '../domain/cluster-activities';
import { InvalidTransition } from '../domain/errors';
import type { Step, WaitHeartbeat } from '../domain/instance';
import { progressQueryName, type OperationProgress } from '../domain/operations';
import { getCluster } from '../db/clusters';
import { recordEvent } from '../db/events';
import { findInstance, type InstanceWithOperation } from '../db/instances';
import type { OperationRow } from '../db/operations';
import { failureMessage } from '../temporal/data-converter';
import type { Deps } from './deps';
import { reconcileOperation, refusalsAudited } from './operations';
import { QUERY_DEADLINE_MS } from './runs';
import { stateOf, toInstanceView, viewOf, type InstanceView, type LiveState, type OperationView } from './views';

/** Started, task scheduled, task started, task completed. */
const FIRST_TASK_COMPLETED = 4;

export async function liveState(deps: Deps, row: OperationRow): Promise<LiveState> {
  const { row: now, running } = await reconcileOperation(deps, row);
  if (!running) return stateOf(now);
  // Before a worker has completed the run's first workflow task there is nobody to answer a
  // query (it would only time out), and nothing has run yet: the row's steps are exact.
  if (running.historyLength < FIRST_TASK_COMPLETED) return stateOf(now);
  return { ...stateOf(now), steps: await withActivityInFlight(deps, await liveSteps(deps, now), running, now) };
}

async function liveSteps(deps: Deps, row: OperationRow): Promise<Step[]> {
  const handle = deps.temporal.workflow.getHandle(row.workflowId, row.runId ?? undefined);
  try {
    const progress = await deps.temporal.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
      handle.query<OperationProgress>(progressQueryName),
    );
    return progress.steps;
  } catch {
    // The worker is gone or slow; the row's steps are stale but the best there is, and a read
    // must not fail because of it.
    return row.steps;
  }
}

/**
 * Activity retries and heartbeats happen inside Temporal, out of the workflow's sight: the step
 * running now takes its attempt number and last error, and what it is waiting for (the `detail`
 * of its last heartbeat, see WaitHeartbeat), from the activity Temporal reports pending.
 */
async function withActivityInFlight(deps: Deps, steps: Step[], description: WorkflowExecutionDescription, row: OperationRow): Promise<Step[]> {
  const pending = description.raw.pendingActivities?.[0];
  if (!pending) return steps;
  const attempt = pending.attempt ?? 1;
  const lastError = attempt > 1 ? await failureMessage(deps.temporal, pending.lastFailure) : undefined;
  const detail = (await heartbeatDetail(deps, pending.heartbeatDetails?.payloads)) ?? (await unservedClusterDetail(deps, row, pending));
  return steps.map((step) =>
    step.status === 'running'
      ? {
          ...step,
          ...(attempt > 1 ? { attempt } : {}),
          ...(lastError ? { error: `retrying after: ${lastError}` } : {}),
          ...(detail ? { detail } : {}),
        }
      : step,
  );
}

/** How long a cluster activity waits in its queue before its wait is put down to a missing worker. */
const UNSERVED_AFTER_MS = 5_000;

type PendingActivity = NonNullable<WorkflowExecutionDescription['raw']['pendingActivities']>[number];

/**
 * A cluster activity still waiting in its cluster's queue (scheduled, not started) while no worker
 * polls that queue: the operation waits for the cluster's worker, and says so and for how long.
 */
async function unservedClusterDetail(deps: Deps, row: OperationRow, pending: PendingActivity): Promise<string | undefined> {
  if (pending.state !== protos.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED) return undefined;
  if (!isClusterActivity(pending.activityType?.name)) return undefined;
  const instance = await findInstance(deps.db, row.instanceId);
  const cluster = instance?.instance.cluster ? await getCluster(deps.db, instance.instance.cluster) : undefined;
  if (!cluster) return undefined;
  const scheduled = pending.scheduledTime?.seconds ? Number(pending.scheduledTime.seconds) * 1000 : undefined;
  // A worker that polls takes a task within moments; only a task left waiting a while says anything.
  if (scheduled === undefined || Date.now() - scheduled < UNSERVED_AFTER_MS) return undefined;
  try {
    const { pollers } = await deps.temporal.workflowService.describeTaskQueue({
      namespace: deps.config.temporalNamespace,
      taskQueue: { name: cluster.taskQueue, kind: protos.temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: protos.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    });
    // Temporal lists a poller for minutes after its worker is gone. A live worker polls again as
    // soon as a task reaches it, so one that has not polled since this task was scheduled is not serving.
    const lastPoll = Math.max(0, ...(pollers ?? []).map((p) => (p.lastAccessTime?.seconds ? Number(p.lastAccessTime.seconds) * 1000 : 0)));
    if (lastPoll > scheduled) return undefined;
  } catch {
    // Not knowing whether anyone serves it says nothing; the read itself must not fail.
    return undefined;
  }
  return `no worker is serving cluster ${cluster.name} for ${Math.round((Date.now() - scheduled) / 1000)} s`;
}

/** Heartbeat details are payloads: decoded by the client's own data converter (codecs included). */
async function heartbeatDetail(deps: Deps, payloads: Payload[] | null | undefined): Promise<string | undefined> {
  if (!payloads?.length) return undefined;
  try {
    const details = await decodeFromPayloadsAtIndex<Partial<WaitHeartbeat> | undefined>(
      deps.temporal.options.loadedDataConverter,
      0,
      payloads,
    );
    return typeof details?.detail === 'string' ? details.detail : undefined;
  } catch {
    // Details this reader cannot decode say nothing to users; the read itself must not fail.
    return undefined;
  }
}

export async function operationView(deps: Deps, row: OperationRow): Promise<OperationView> {
  return viewOf(deps.config, row, await liveState(deps, row));
}

/**
 * One instance as users see it, reconciled with Temporal: while an operation runs, its status is
 * the one that operation implies and its steps are live.
 */
export async function instanceView(deps: Deps, found: InstanceWithOperation): Promise<InstanceView> {
  let { instance } = found;
  let current: OperationView | undefined;
  if (found.running) {
    current = await operationView(deps, found.running);
    // Reconciling may have settled the instance too.
    if (current.status !== 'running') instance = (await findInstance(deps.db, instance.id))?.instance ?? instance;
  }
  return toInstanceView(deps.config, instance, current?.status === 'running' ? current : null);
}

/** Asks a running operation to stop: it undoes what it did and ends cancelled. */
export async function cancel(deps: Deps, row: OperationRow, actor: string): Promise<OperationView> {
  return refusalsAudited(deps, row.instanceId, 'cancel', actor, async () => {
    const view = await operationView(deps, row);
    if (view.status !== 'running') throw new InvalidTransition(`operation ${row.id} is not running (it is ${view.status})`);
    await deps.temporal.workflow.getHandle(row.workflowId, row.runId ?? undefined).cancel();
    await recordEvent(deps.db, {
      key: `${row.id}:cancel:requested`,
      instanceId: row.instanceId,
      operationId: row.id,
      actor,
      action: 'cancel',
      outcome: 'requested',
    });
    return view;
  });
}
