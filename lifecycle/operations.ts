// Starting, joining and reconciling the operations on existing instances: the catalogue row plus
// the Temporal run behind it. One running operation per instance is kept twice over, each by the
// party that owns the fact: the catalogue (a unique index on running rows, inserted under a lock
// on the instance row) and Temporal (every operation of an instance runs under the same workflow
// id, conflict policy FAIL). A run that closes without writing its row is found by the next read
// or by the scheduled reconcile, and its row and instance are made true.
import { type WorkflowExecutionDescription, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Scope } from '../domain/api-keys';
import type { BackupSource } from '../domain/backups';
import { InsufficientCapacity, InvalidTransition, type LifecycleError, NotFound, OperationRunning, Unavailable, Unprocessable } from '../domain/errors';
import type { Plan } from '../domain/instance';
import { kindSpec, startRefusal, type OperationKind, type OperationKindSpec, type OperationRequest } from '../domain/operation-kinds';
import { workflowIdFor, type OperationMemo } from '../domain/operations';
import { rolloutIdOfActor } from '../domain/rollouts';
import { operationSearchAttributes } from '../domain/search-attributes';
import type { Database } from '../db/client';
import { getBackup } from '../db/backups';
import { recordEvent } from '../db/events';
import { newId } from '../db/ids';
import { findInstance, type InstanceRow, type InstanceWithOperation } from '../db/instances';
import {
  claimInstance,
  discardOperation,
  finishAbandonedOperation,
  getOperation,
  insertOperationIfAllowed,
  type OperationRow,
  setRunId,
} from '../db/operations';
import { getPlan, listPlans } from '../db/plans';
import { moveTarget, placementFor } from './clusters';
import type { Deps } from './deps';
import { closeReason, describeRun, operationHoldingInstance, runOf, startRun } from './runs';
import { startedView, type OperationView } from './views';

/** A row without a run id younger than this is a start still in flight, not a lost one. */
const START_GRACE_MS = 30_000;
/** How long a start waits for the run of an operation that has already recorded its result to close. */
const CLOSING_RUN_WAIT_MS = 5_000;
const RECONCILER = 'reconciler';

// ---- reconciling

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
  if (!runOf(run, row.id)) {
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
    ...(started || spec.runningStatus === null ? {} : { onlyFrom: spec.runningStatus }),
  });
  // Another reader finished it first: its row is the truth.
  if (!finished) return (await getOperation(deps.db, row.id)) ?? row;
  if (spec.abandoned.cleanup) await startCleanup(deps, row.instanceId);
  return finished;
}

/** Removes what an abandoned provision may have left; the instance is failed either way, and a DELETE removes what is left. */
async function startCleanup(deps: Deps, instanceId: string): Promise<void> {
  const found = await findInstance(deps.db, instanceId);
  if (found) await startOperation(deps, found, 'cleanup', RECONCILER, {}).catch(() => undefined);
}

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
  if (instance.status === kindSpec('provision').runningStatus) await startCleanup(deps, instance.id);
}

// ---- starting

/**
 * Starts the run for an operation whose row is inserted (running, no run id) and records its run
 * id. When the start's outcome is unknown (a deadline after the server may have accepted it),
 * the workflow id is described: a run carrying this operation's id means it started; no such run
 * means it did not, and the rows are removed; no answer leaves the rows for the reconcile to
 * settle, so nothing that did start is ever left without its catalogue row.
 */
export async function startWorkflow(
  deps: Deps,
  spec: OperationKindSpec,
  instance: InstanceRow,
  operation: OperationRow,
  input: unknown,
  discardInstance: boolean,
  /** The plan and version the operation moves the instance to, when it changes them. */
  target: { plan?: string; version?: string } = {},
): Promise<OperationRow> {
  const memo: OperationMemo = { operationId: operation.id, instanceId: instance.id, kind: operation.kind };
  const searchAttributes = operationSearchAttributes({
    slug: instance.slug,
    kind: operation.kind,
    plan: target.plan ?? instance.plan,
    version: target.version ?? instance.version,
    rolloutId: rolloutIdOfActor(operation.actor),
  });
  const discard = () => discardOperation(deps.db, operation.id, discardInstance ? instance.id : undefined);
  try {
    const handle = await startRun(deps, spec, instance.slug, input, memo, searchAttributes).catch(async (err) => {
      // The previous operation wrote its row and is closing its run: give it a moment, then start.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError) || !(await previousRunClosing(deps, instance))) throw err;
      return startRun(deps, spec, instance.slug, input, memo, searchAttributes);
    });
    return await setRunId(deps.db, operation.id, handle.firstExecutionRunId);
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      // A run of another operation holds the id, so ours certainly did not start.
      await discard();
      throw new OperationRunning(instance.slug, await operationHoldingInstance(deps, instance.slug));
    }
    const run = await describeRun(deps, operation);
    if (runOf(run, operation.id)) return setRunId(deps.db, operation.id, run.runId);
    if (run === 'unreachable') {
      throw new Unavailable(`Temporal did not confirm that operation ${operation.id} started; its status will show once Temporal answers`);
    }
    await discard();
    throw err;
  }
}

/**
 * Whether the run holding the instance's workflow id belongs to an operation whose row is already
 * finished (it records its result, then completes); if so, waits until that run has closed.
 */
async function previousRunClosing(deps: Deps, instance: InstanceRow): Promise<boolean> {
  const holding = await operationHoldingInstance(deps, instance.slug);
  const previous = holding && (await getOperation(deps.db, holding.id));
  if (!previous || previous.status === 'running') return false;
  const handle = deps.temporal.workflow.getHandle(workflowIdFor(instance.slug));
  await deps.temporal.withDeadline(Date.now() + CLOSING_RUN_WAIT_MS, () => handle.result()).catch(() => undefined);
  return true;
}

/** The audit trail's line for an accepted request. */
export async function recordRequested(deps: Deps, operation: OperationRow, actor: string, message?: string): Promise<void> {
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

/** Operations a caller may start on an existing instance (provision makes a new one; cleanup is the reconciler's). */
export type InstanceOperationKind = Exclude<OperationKind, 'provision' | 'cleanup'>;

/** What a caller's request for an operation on an instance says (its route's body and query), before the names in it are looked up. */
export interface RequestedOperation {
  version?: string;
  plan?: string;
  backupId?: string;
  /** Hours before a delete purges, as the query string has it. */
  grace?: string;
  /** The cluster to move the instance to (move). */
  cluster?: string;
}

/** The plan named `name`, or Unprocessable listing the plans there are. */
export async function knownPlan(db: Database, name: string): Promise<Plan> {
  const plan = await getPlan(db, name);
  if (plan) return plan;
  const known = (await listPlans(db)).map((p) => p.name).join(', ');
  throw new Unprocessable(`unknown plan "${name}" (plans: ${known})`, [{ field: 'plan', message: 'is not a known plan' }]);
}

/** A caller's request for `kind` on the instance `idOrSlug`, as its route received it. */
export async function requestOperation(
  deps: Deps,
  idOrSlug: string,
  kind: InstanceOperationKind,
  actor: string,
  requested: RequestedOperation,
  /** The caller's: an instance (or a backup to restore) outside it is not found. */
  scope: Scope,
): Promise<OperationView> {
  const found = await findInstance(deps.db, idOrSlug, scope);
  if (!found) throw new NotFound(`instance "${idOrSlug}"`);
  const plan = requested.plan === undefined ? undefined : await knownPlan(deps.db, requested.plan);
  const backup = requested.backupId === undefined ? undefined : await backupToRestore(deps, requested.backupId, scope, found.instance);
  const target = requested.cluster === undefined ? undefined : await moveTarget(deps, found.instance, requested.cluster);
  return startOnInstance(deps, found, kind, actor, {
    ...(target ? { target } : {}),
    version: requested.version,
    ...(plan ? { plan } : {}),
    ...(backup ? { backup } : {}),
    ...(requested.grace === undefined ? {} : { graceSeconds: Math.min(Number(requested.grace), 8760) * 3600 }),
  });
}

/**
 * The backup a restore or a clone reads. A restore (`forInstance` set) takes only a backup of that
 * instance: another instance's data is brought in by a clone, which makes a new instance for it.
 */
export async function backupToRestore(
  deps: Deps,
  backupId: string,
  /** A backup of an instance outside it is not found (never "of another instance"). */
  scope: Scope,
  forInstance?: { id: string; slug: string },
): Promise<BackupSource & { status: string; appVersion: string }> {
  const row = await getBackup(deps.db, backupId, scope);
  if (!row) throw new NotFound(`backup "${backupId}"`);
  if (forInstance && row.instanceId !== forInstance.id) {
    throw new Unprocessable(`backup ${backupId} is of another instance; a restore takes a backup of ${forInstance.slug} only (clone it: POST /v1/instances with fromBackup)`, [
      { field: 'backupId', message: 'is a backup of another instance' },
    ]);
  }
  if (!forInstance && row.status !== 'completed') throw new InvalidTransition(`backup ${backupId} is ${row.status}; only a completed backup can be cloned`);
  return { backupId: row.id, instanceId: row.instanceId, parts: row.parts, status: row.status, appVersion: row.appVersion };
}


export async function startOnInstance(
  deps: Deps,
  found: InstanceWithOperation,
  kind: InstanceOperationKind,
  actor: string,
  request: OperationRequest = {},
): Promise<OperationView> {
  return refusalsAudited(deps, found.instance.id, kind, actor, async () => startedView(deps.config, await startOperation(deps, found, kind, actor, request)));
}

/** Refused requests belong in the audit trail too: who tried what, and why it was refused. */
export async function refusalsAudited<T>(deps: Deps, instanceId: string, action: string, actor: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof OperationRunning || err instanceof InvalidTransition || err instanceof InsufficientCapacity) {
      await recordEvent(deps.db, { instanceId, actor, action, outcome: 'refused', message: (err as LifecycleError).message });
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
    if (row.status === 'running') throw new OperationRunning(instance.slug, { id: row.id, kind: row.kind });
  }
  const plan = await getPlan(deps.db, instance.plan);
  if (!plan) throw new Error(`instance ${instance.slug} has plan ${instance.plan}, which is not in the catalogue`);
  const inserted = await insertOperationIfAllowed(
    deps.db,
    { id: newId('op'), instanceId: instance.id, kind, workflowId: workflowIdFor(instance.slug), actor },
    (current) => startRefusal(kind, current, request),
  );
  if ('refusal' in inserted) throw new InvalidTransition(inserted.refusal);
  if ('running' in inserted) throw new OperationRunning(instance.slug, inserted.running && { id: inserted.running.id, kind: inserted.running.kind });
  const { operation, instance: locked } = inserted;
  const spec: OperationKindSpec = kindSpec(kind);
  const input = spec.input(
    {
      operationId: operation.id,
      instanceId: locked.id,
      slug: locked.slug,
      actor,
      settings: operationSettings(deps),
      fromStatus: locked.status,
      ...(locked.cluster === null ? {} : { placement: await placementFor(deps.db, locked.cluster) }),
    },
    { plan, instance: locked, request },
  );
  const started = await startWorkflow(deps, spec, locked, operation, input, false, { plan: request.plan?.name, version: request.version });
  await recordRequested(deps, started, actor, spec.describe?.(locked, request));
  return started;
}

/** Settings an operation orchestrates with, fixed at its start. */
export const operationSettings = ({ config }: Deps) => ({
  rolloutTimeoutSeconds: config.rolloutTimeoutSeconds,
  unschedulableGraceSeconds: config.unschedulableGraceSeconds,
  deleteGraceSeconds: Math.round(config.deleteGraceHours * 3600),
  tlsMode: config.tlsMode,
});
