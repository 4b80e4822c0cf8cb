// Starting, cancelling, reading and reconciling operations: the catalogue row plus the Temporal
// workflow run behind it. One running operation per instance is kept twice over, each by the
// party that owns the fact: the catalogue (a unique index on running rows, inserted under a lock
// on the instance row) and Temporal (every operation of an instance runs under the same workflow
// id, conflict policy FAIL). A run that closes without writing its row is found by the next read
// or by the scheduled reconcile, and its row and instance are made true.
import {
  type Client,
  type WorkflowExecutionDescription,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowStartOptions,
} from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import protos from '@temporalio/proto';
import type * as workflows from '../workflows';
import type { Config } from '../domain/config';
import { failureMessage } from '../temporal/data-converter';
import { capacityShortfall, capacityView, type ClusterListing } from '../domain/capacity';
import { hostnameFor, namespaceFor, type OperationKind, type Plan, type OperationStatus, type Step, type WaitHeartbeat } from '../domain/instance';
import {
  kindSpec,
  startRefusal,
  statusWhileRunning,
  type InputOf,
  type OperationKindSpec,
  type OperationRequest,
} from '../domain/operation-kinds';
import {
  progressQueryName,
  workflowIdFor,
  type OperationMemo,
  type OperationProgress,
  type OperationSettings,
} from '../domain/operations';
import { lockKey, type Database, type Transaction } from '../db/client';
import { isUniqueViolation } from '../db/errors';
import { newId } from '../db/ids';
import { getPlan, listPlans, livePlans } from '../db/plans';
import { findInstance, type InstanceRow, type InstanceWithOperation, slugFromNameFree } from '../db/instances';
import { claimInstance, discardOperation, finishAbandonedOperation, getOperation, insertInstanceWithOperation, insertOperationIfAllowed, type OperationRow, setRunId } from '../db/operations';
import { recordEvent } from '../db/events';
import { Problem } from './problems';
import type { InstanceView, OperationView } from './schemas';

export interface Deps {
  config: Config;
  db: Database;
  temporal: Client;
  /** The cluster, read for the capacity check before a provision (api/capacity.ts); the API server always has one. */
  listCluster?: () => Promise<ClusterListing>;
}

/** How long a read waits on Temporal before falling back to what the catalogue knows. */
const QUERY_DEADLINE_MS = 2_000;
/** Started, task scheduled, task started, task completed. */
const FIRST_TASK_COMPLETED = 4;
/** A row without a run id younger than this is a start still in flight, not a lost one. */
const START_GRACE_MS = 30_000;

// ---- reconciling

type Described = WorkflowExecutionDescription | 'not-found' | 'unreachable';

async function describeRun(deps: Deps, row: OperationRow): Promise<Described> {
  const handle = deps.temporal.workflow.getHandle(row.workflowId, row.runId ?? undefined);
  try {
    return await deps.temporal.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.describe());
  } catch (err) {
    // Temporal unreachable: a read still answers with what the catalogue knows (/readyz tells the
    // outage) and the next read or scheduled reconcile tries again.
    return err instanceof WorkflowNotFoundError ? 'not-found' : 'unreachable';
  }
}

/**
 * Makes a `running` row true. A row whose run is still running is returned as it is, with the
 * run's description; a run that closed without recording its result (terminated, timed out,
 * failed outside its runbook) gets its row finished with Temporal's close status and reason, and
 * its instance the status the kind declares for that case (`failed`: the world may be
 * half-changed); an abandoned provision also gets a cleanup operation. A row whose run never
 * started (an ambiguous start that did not happen) is finished the same way once its start grace
 * has passed.
 */
export async function reconcileOperation(
  deps: Deps,
  row: OperationRow,
): Promise<{ row: OperationRow; running?: WorkflowExecutionDescription }> {
  if (row.status !== 'running') return { row };
  const run = await describeRun(deps, row);
  if (run === 'unreachable') return { row };
  const ours = run !== 'not-found' && (run.memo as Partial<OperationMemo> | undefined)?.operationId === row.id;
  if (!ours) {
    if (!row.runId && Date.now() - row.startedAt.getTime() < START_GRACE_MS) return { row };
    return { row: await abandon(deps, row, 'failed', NEVER_STARTED, { started: false }) };
  }
  if (run.status.name === 'RUNNING') return { row, running: run };
  // The workflow writes its row before it completes; re-read in case we raced that write.
  const fresh = (await getOperation(deps.db, row.id)) ?? row;
  if (fresh.status !== 'running') return { row: fresh };
  const status = run.status.name === 'CANCELLED' ? 'cancelled' : 'failed';
  return { row: await abandon(deps, row, status, await closeReason(deps, row, run)) };
}

/** Why a run closed, from its close event: the termination reason an operator typed, the timeout, the failure. */
async function closeReason(deps: Deps, row: OperationRow, run: WorkflowExecutionDescription): Promise<string> {
  let event: protos.temporal.api.history.v1.IHistoryEvent | undefined;
  try {
    const { history } = await deps.temporal.workflowService.getWorkflowExecutionHistory({
      namespace: deps.config.temporalNamespace,
      execution: { workflowId: row.workflowId, runId: run.runId },
      historyEventFilterType: protos.temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
    });
    event = history?.events?.at(-1);
  } catch {
    // The status alone still tells how it ended.
  }
  switch (run.status.name) {
    case 'TERMINATED': {
      const attrs = event?.workflowExecutionTerminatedEventAttributes;
      const by = attrs?.identity ? ` by ${attrs.identity}` : '';
      return `the workflow was terminated${by}${attrs?.reason ? `: ${attrs.reason}` : ''}`;
    }
    case 'TIMED_OUT':
      return 'the workflow timed out';
    case 'CANCELLED':
      return 'the workflow was cancelled before it recorded its result';
    case 'COMPLETED':
      return 'the workflow completed without recording its result';
    default: {
      const message = await failureMessage(deps.temporal, event?.workflowExecutionFailedEventAttributes?.failure);
      return `the workflow failed outside its runbook${message ? `: ${message}` : ''}`;
    }
  }
}

/** The error of an operation whose run never started: nothing of it ran, so it may simply be requested again. */
export const NEVER_STARTED = 'the workflow of this operation never started';

/** Whether `row` was settled because its run never started (see NEVER_STARTED). */
export function neverStarted(row: OperationRow): boolean {
  return row.status === 'failed' && row.error === NEVER_STARTED;
}

async function abandon(
  deps: Deps,
  row: OperationRow,
  status: 'failed' | 'cancelled',
  error: string,
  { started = true }: { started?: boolean } = {},
): Promise<OperationRow> {
  const spec: OperationKindSpec = kindSpec(row.kind);
  // A run that never started never claimed its instance (the claim is its first step), so the
  // instance keeps its status — unless the request itself put it in the running status (a new
  // instance is inserted provisioning), which nothing will now move on.
  const finished = await finishAbandonedOperation(deps.db, row, {
    status,
    error,
    instanceStatus: spec.abandoned.status,
    ...(started ? {} : { onlyFrom: spec.runningStatus }),
  });
  // Another reader finished it first: its row is the truth.
  if (!finished) return (await getOperation(deps.db, row.id)) ?? row;
  if (spec.abandoned.cleanup) {
    const found = await findInstance(deps.db, row.instanceId);
    if (found) {
      try {
        await startOperation(deps, found, 'cleanup', RECONCILER, {});
      } catch {
        // The instance is failed either way; a DELETE removes what is left.
      }
    }
  }
  return finished;
}

const RECONCILER = 'reconciler';

/**
 * An instance in a transitional status with no running operation behind it (its row was lost):
 * it is `failed`, and if it was being provisioned, a cleanup removes what the run may have made.
 */
export async function reconcileStuckInstance(deps: Deps, instance: InstanceRow): Promise<void> {
  const marked = await claimInstance(deps.db, { instanceId: instance.id, operationId: '', from: instance.status, to: 'failed' });
  if (!marked.claimed) return;
  await recordEvent(deps.db, {
    instanceId: instance.id,
    actor: RECONCILER,
    action: 'reconcile',
    outcome: 'failed',
    message: `instance was ${instance.status} with no operation running; set to failed`,
  });
  if (instance.status !== kindSpec('provision').runningStatus) return;
  const found = await findInstance(deps.db, instance.id);
  if (found) await startOperation(deps, found, 'cleanup', RECONCILER, {}).catch(() => undefined);
}

// ---- reading

interface LiveState {
  status: OperationStatus;
  steps: Step[];
  error?: string;
  endedAt?: Date;
}

const stateOf = (row: OperationRow): LiveState => ({
  status: row.status,
  steps: row.steps,
  error: row.error ?? undefined,
  endedAt: row.endedAt ?? undefined,
});

/**
 * The operation as it is now: a finished row is the truth; a running one is reconciled with
 * Temporal, and while its run is running the steps come live from the workflow.
 */
export async function liveState(deps: Deps, row: OperationRow): Promise<LiveState> {
  const { row: now, running } = await reconcileOperation(deps, row);
  if (!running) return stateOf(now);
  // Before a worker has completed the run's first workflow task there is nobody to answer a
  // query (it would only time out), and nothing has run yet: the row's steps are exact.
  if (running.historyLength < FIRST_TASK_COMPLETED) return stateOf(now);
  return { ...stateOf(now), steps: await withActivityInFlight(deps, await liveSteps(deps, now), running) };
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
async function withActivityInFlight(deps: Deps, steps: Step[], description: WorkflowExecutionDescription): Promise<Step[]> {
  const pending = description.raw.pendingActivities?.[0];
  if (!pending) return steps;
  const attempt = pending.attempt ?? 1;
  const lastError = attempt > 1 ? await failureMessage(deps.temporal, pending.lastFailure) : undefined;
  const detail = await heartbeatDetail(deps, pending.heartbeatDetails?.payloads);
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

export async function operationView(deps: Deps, row: OperationRow, live?: LiveState): Promise<OperationView> {
  const state = live ?? (await liveState(deps, row));
  const { error: _rowError, endedAt: _rowEnd, ...fromRow } = rowView(row);
  return {
    ...fromRow,
    status: state.status,
    steps: state.steps,
    ...(state.error ? { error: state.error } : {}),
    ...(state.endedAt ? { endedAt: state.endedAt.toISOString() } : {}),
  };
}

/**
 * One instance as users see it, reconciled with Temporal: while an operation runs, its status is
 * the one that operation implies and its steps are live.
 */
export async function instanceView(
  deps: Deps,
  found: InstanceWithOperation,
  /** The running operation's view when the caller just made it (saves asking Temporal again). */
  known?: OperationView,
): Promise<InstanceView> {
  let { instance } = found;
  let current = known;
  if (!current && found.running) {
    current = await operationView(deps, found.running);
    // Reconciling may have settled the instance too.
    if (current.status !== 'running') instance = (await findInstance(deps.db, instance.id))?.instance ?? instance;
  }
  return toInstanceView(deps.config, instance, current?.status === 'running' ? current : null);
}

/** An instance as the catalogue has it, with no call to Temporal: for lists, where a page must cost a bounded number of calls. */
export function listedInstanceView(config: Config, { instance, running }: InstanceWithOperation): InstanceView {
  return toInstanceView(config, instance, running ? rowView(running) : null);
}

function rowView(row: OperationRow): OperationView {
  return {
    id: row.id,
    instanceId: row.instanceId,
    kind: row.kind,
    status: row.status,
    steps: row.steps,
    ...(row.error ? { error: row.error } : {}),
    actor: row.actor,
    startedAt: row.startedAt.toISOString(),
    ...(row.endedAt ? { endedAt: row.endedAt.toISOString() } : {}),
  };
}

function toInstanceView(config: Config, instance: InstanceRow, active: OperationView | null): InstanceView {
  return {
    id: instance.id,
    slug: instance.slug,
    name: instance.name,
    plan: instance.plan,
    version: instance.version,
    status: active ? statusWhileRunning[active.kind] : instance.status,
    hostname: hostnameFor(instance.slug, config.baseDomain),
    namespace: namespaceFor(instance.slug),
    ownerEmail: instance.ownerEmail,
    createdAt: instance.createdAt.toISOString(),
    updatedAt: instance.updatedAt.toISOString(),
    health: instance.health,
    ...(instance.healthCheckedAt ? { healthCheckedAt: instance.healthCheckedAt.toISOString() } : {}),
    currentOperation: active,
  };
}

// ---- starting

const settings = (config: Config): OperationSettings => ({
  rolloutTimeoutSeconds: config.rolloutTimeoutSeconds,
  unschedulableGraceSeconds: config.unschedulableGraceSeconds,
});

type Workflows = typeof workflows;

/**
 * Starts the run of `spec`'s workflow, typed by the workflow it names: the table's input builder
 * returns exactly that workflow's parameter, so the one cast below only restates it for a generic W.
 */
function startRun<W extends keyof Workflows>(deps: Deps, spec: OperationKindSpec<W>, slug: string, input: InputOf<W>, memo: OperationMemo) {
  const options = {
    workflowId: workflowIdFor(slug),
    taskQueue: deps.config.taskQueue,
    args: [input],
    memo: { ...memo },
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  } as const;
  return deps.temporal.workflow.start<Workflows[W]>(spec.workflowType, options as unknown as WorkflowStartOptions<Workflows[W]>);
}

/**
 * Starts the run for an operation whose row is inserted (running, no run id) and records its run
 * id. When the start's outcome is unknown (a deadline after the server may have accepted it),
 * the workflow id is described: a run carrying this operation's id means it started; no such run
 * means it did not, and the rows are removed; no answer leaves the rows for the reconcile to
 * settle, so nothing that did start is ever left without its catalogue row.
 */
async function startWorkflow<W extends keyof Workflows>(
  deps: Deps,
  spec: OperationKindSpec<W>,
  instance: InstanceRow,
  operation: OperationRow,
  input: InputOf<W>,
  discardInstance: boolean,
): Promise<OperationRow> {
  const memo: OperationMemo = { operationId: operation.id, instanceId: instance.id, kind: operation.kind };
  const discard = () => discardOperation(deps.db, operation.id, discardInstance ? instance.id : undefined);
  try {
    const handle = await startRun(deps, spec, instance.slug, input, memo).catch(async (err) => {
      // The previous operation wrote its row and is closing its run: give it a moment, then start.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError) || !(await previousRunClosing(deps, instance))) throw err;
      return startRun(deps, spec, instance.slug, input, memo);
    });
    return await setRunId(deps.db, operation.id, handle.firstExecutionRunId);
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      // A run of another operation holds the id, so ours certainly did not start.
      await discard();
      throw await alreadyRunning(deps, instance);
    }
    const run = await describeRun(deps, operation);
    if (run !== 'not-found' && run !== 'unreachable' && (run.memo as Partial<OperationMemo> | undefined)?.operationId === operation.id) {
      return setRunId(deps.db, operation.id, run.runId);
    }
    if (run === 'unreachable') {
      throw new Problem(503, `Temporal did not confirm that operation ${operation.id} started; its status will show once Temporal answers`);
    }
    await discard();
    throw err;
  }
}

/** How long a start waits for the run of an operation that has already recorded its result to close. */
const CLOSING_RUN_WAIT_MS = 5_000;

/**
 * Whether the run holding the instance's workflow id belongs to an operation whose row is already
 * finished (it records its result, then completes); if so, waits until that run has closed.
 */
async function previousRunClosing(deps: Deps, instance: InstanceRow): Promise<boolean> {
  const handle = deps.temporal.workflow.getHandle(workflowIdFor(instance.slug));
  try {
    const memo = (await handle.describe()).memo as Partial<OperationMemo> | undefined;
    const previous = memo?.operationId ? await getOperation(deps.db, memo.operationId) : undefined;
    if (!previous || previous.status === 'running') return false;
    await deps.temporal.withDeadline(Date.now() + CLOSING_RUN_WAIT_MS, () => handle.result()).catch(() => undefined);
    return true;
  } catch {
    return false;
  }
}

async function alreadyRunning(deps: Deps, instance: InstanceRow): Promise<Problem> {
  let other: { id: string; kind: string } | undefined;
  try {
    const description = await deps.temporal.workflow.getHandle(workflowIdFor(instance.slug)).describe();
    const memo = description.memo as Partial<OperationMemo> | undefined;
    if (memo?.operationId && memo.kind) other = { id: memo.operationId, kind: memo.kind };
  } catch {
    // It may have finished in between; the 409 stands, only less specific.
  }
  return runningConflict(instance.slug, other);
}

function runningConflict(slug: string, other: { id: string; kind: string } | undefined): Problem {
  return new Problem(
    409,
    other
      ? `operation ${other.id} (${other.kind}) is running on instance ${slug}; wait for it or cancel it`
      : `another operation is running on instance ${slug}`,
    other ? { operation: other } : {},
  );
}

async function requested(deps: Deps, operation: OperationRow, actor: string, message?: string): Promise<void> {
  await recordEvent(deps.db, {
    key: `${operation.id}:${operation.kind}:requested`,
    instanceId: operation.instanceId,
    operationId: operation.id,
    actor,
    action: operation.kind,
    outcome: 'requested',
    message,
  });
}

export interface ProvisionRequest {
  name: string;
  slug?: string;
  plan: string;
  ownerEmail: string;
  version?: string;
}

/** The plan named `name`, or a 422 listing the plans there are. */
export async function knownPlan(db: Database, name: string): Promise<Plan> {
  const plan = await getPlan(db, name);
  if (plan) return plan;
  const known = (await listPlans(db)).map((p) => p.name).join(', ');
  throw new Problem(422, `unknown plan "${name}" (plans: ${known})`, { errors: [{ field: 'plan', message: 'is not a known plan' }] });
}

export async function provision(
  deps: Deps,
  request: ProvisionRequest,
  actor: string,
): Promise<{ instance: InstanceView; operation: OperationView }> {
  const plan = await knownPlan(deps.db, request.plan);
  const slug = request.slug ?? (await deriveSlug(deps, request.name));
  const version = request.version ?? deps.config.defaultVersion;
  const instanceId = newId('ins');
  const operationId = newId('op');
  // Listed before the lock below, many requests at once; what it cannot know yet, the catalogue adds.
  const cluster = deps.listCluster && (await deps.listCluster());
  let rows: Awaited<ReturnType<typeof insertInstanceWithOperation>>;
  try {
    rows = await insertInstanceWithOperation(
      deps.db,
      { id: instanceId, slug, name: request.name, plan: plan.name, version, ownerEmail: request.ownerEmail },
      { id: operationId, instanceId, kind: 'provision', workflowId: workflowIdFor(slug), actor },
      cluster && ((tx) => admitByCapacity(cluster, tx, plan, deps.config.overcommitRatio)),
    );
  } catch (err) {
    if (isUniqueViolation(err, 'instances_slug_unique')) {
      throw new Problem(409, `slug "${slug}" is taken`, { errors: [{ field: 'slug', message: 'is taken' }] });
    }
    throw err;
  }
  const spec = kindSpec('provision');
  const input = spec.input(
    { operationId, instanceId, slug, actor, settings: settings(deps.config), fromStatus: rows.instance.status },
    { plan, instance: rows.instance, request: {} },
  );
  const operation = await startWorkflow(deps, spec, rows.instance, rows.operation, input, true);
  await requested(deps, operation, actor, `provision ${slug} on plan ${plan.name} at version ${version}`);
  const view = await operationView(deps, operation, { status: 'running', steps: operation.steps });
  return { instance: await instanceView(deps, { instance: rows.instance, running: operation }, view), operation: view };
}

/**
 * Quotas are validated before anything is created: a new instance that does not fit next to every
 * other instance's quota (and every instance accepted before it, its quota perhaps not applied
 * yet) is refused here, not half-provisioned. Serialised across API replicas until the new
 * instance's row is committed, so the next check counts it; under the lock only the catalogue is
 * read (the cluster was listed before), so admissions stay quick when a fleet arrives at once.
 */
async function admitByCapacity(cluster: ClusterListing, tx: Transaction, plan: Plan, overcommitRatio: number): Promise<void> {
  await lockKey(tx, 'instance-capacity');
  const shortfall = capacityShortfall(capacityView(cluster, undefined, await livePlans(tx)), plan, overcommitRatio);
  if (shortfall) throw new Problem(409, shortfall);
}

async function deriveSlug(deps: Deps, name: string): Promise<string> {
  try {
    return await slugFromNameFree(deps.db, name);
  } catch (err) {
    throw new Problem(409, err instanceof Error ? err.message : String(err), {
      errors: [{ field: 'slug', message: 'could not be derived from the name; give one' }],
    });
  }
}

/** Operations an API caller may start on an existing instance (provision makes a new one; cleanup is the reconciler's). */
export type InstanceOperationKind = Exclude<OperationKind, 'provision' | 'cleanup'>;

export async function startOnInstance(
  deps: Deps,
  found: InstanceWithOperation,
  kind: InstanceOperationKind,
  actor: string,
  request: OperationRequest = {},
): Promise<OperationView> {
  return refusalsAudited(deps, found.instance.id, kind, actor, async () => {
    const operation = await startOperation(deps, found, kind, actor, request);
    return operationView(deps, operation, { status: 'running', steps: operation.steps });
  });
}

/** Refused requests belong in the audit trail too: who tried what, and why it was refused. */
async function refusalsAudited<T>(deps: Deps, instanceId: string, action: string, actor: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Problem && err.status === 409) {
      await recordEvent(deps.db, { instanceId, actor, action, outcome: 'refused', message: err.detail });
    }
    throw err;
  }
}

/**
 * Starts `kind` on an existing instance. The status check and the insert of the operation's row
 * happen in one transaction holding the instance row's lock, and the row's unique index admits
 * one running operation per instance, so of concurrent requests exactly one is accepted. The
 * run's first step checks the status again (compare-and-set), so nothing that moved the instance
 * in between is overwritten.
 */
async function startOperation(
  deps: Deps,
  found: InstanceWithOperation,
  kind: Exclude<OperationKind, 'provision'>,
  actor: string,
  request: OperationRequest,
): Promise<OperationRow> {
  const { instance } = found;
  if (found.running) {
    const { row } = await reconcileOperation(deps, found.running);
    if (row.status === 'running') throw runningConflict(instance.slug, { id: row.id, kind: row.kind });
  }
  const plan = await getPlan(deps.db, instance.plan);
  if (!plan) throw new Error(`instance ${instance.slug} has plan ${instance.plan}, which is not in the catalogue`);
  const inserted = await insertOperationIfAllowed(
    deps.db,
    { id: newId('op'), instanceId: instance.id, kind, workflowId: workflowIdFor(instance.slug), actor },
    (current) => startRefusal(kind, current, request),
  );
  if ('refusal' in inserted) throw new Problem(409, inserted.refusal);
  if ('running' in inserted) throw runningConflict(instance.slug, inserted.running && { id: inserted.running.id, kind: inserted.running.kind });
  const { operation, instance: locked } = inserted;
  const spec: OperationKindSpec = kindSpec(kind);
  const input = spec.input(
    { operationId: operation.id, instanceId: locked.id, slug: locked.slug, actor, settings: settings(deps.config), fromStatus: locked.status },
    { plan, instance: locked, request },
  );
  const started = await startWorkflow(deps, spec, locked, operation, input, false);
  await requested(deps, started, actor, spec.describe?.(locked, request));
  return started;
}

// ---- cancelling

export async function cancel(deps: Deps, row: OperationRow, actor: string): Promise<OperationView> {
  return refusalsAudited(deps, row.instanceId, 'cancel', actor, () => cancelRunning(deps, row, actor));
}

async function cancelRunning(deps: Deps, row: OperationRow, actor: string): Promise<OperationView> {
  const view = await operationView(deps, row);
  if (view.status !== 'running') throw new Problem(409, `operation ${row.id} is not running (it is ${view.status})`);
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
}

// ---- readiness

/** Problems that keep the API from serving: empty when the catalogue and Temporal answer. */
export async function readinessProblems(deps: Deps): Promise<string[]> {
  const deadline = Date.now() + QUERY_DEADLINE_MS;
  const checks = await Promise.allSettled([
    Promise.race([
      deps.db.$client`select 1`,
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), QUERY_DEADLINE_MS).unref()),
    ]),
    deps.temporal.withDeadline(deadline, () =>
      deps.temporal.workflowService.describeNamespace({ namespace: deps.config.temporalNamespace }),
    ),
  ]);
  const names = ['catalogue', 'temporal'];
  return checks.flatMap((c, i) =>
    c.status === 'rejected' ? [`${names[i]} unreachable: ${c.reason instanceof Error ? c.reason.message : String(c.reason)}`] : [],
  );
}
