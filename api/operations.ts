// Starting, cancelling and reading operations: the catalogue row plus the Temporal workflow
// run behind it. Temporal, not the catalogue, is what keeps one operation per instance: every
// operation of an instance runs under the same workflow id with conflict policy FAIL.
import {
  type Client,
  type WorkflowExecutionDescription,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import type { Config } from '../domain/config';
import { hostnameFor, namespaceFor, statusWhileRunning, type OperationKind, type OperationStatus, type Step } from '../domain/instance';
import {
  progressQueryName,
  workflowIdFor,
  workflowTypeFor,
  type OperationMemo,
  type OperationProgress,
  type OperationSettings,
} from '../domain/operations';
import type { Database } from '../db/client';
import * as catalogue from '../db/catalogue';
import type { InstanceRow, InstanceWithOperation, OperationRow } from '../db/catalogue';
import { Problem } from './problems';
import type { InstanceView, OperationView } from './schemas';

export interface Deps {
  config: Config;
  db: Database;
  temporal: Client;
}

/** How long a read waits on Temporal before falling back to what the catalogue knows. */
const QUERY_DEADLINE_MS = 2_000;
/** Started, task scheduled, task started, task completed. */
const FIRST_TASK_COMPLETED = 4;
/** A row without a run id younger than this is a start still in flight, not a lost one. */
const START_GRACE_MS = 30_000;

// ---- reading

interface LiveState {
  status: OperationStatus;
  steps: Step[];
  error?: string;
  endedAt?: Date;
}

/**
 * The operation as it is now. A row the workflow has finished is the truth; a `running` row is
 * checked against Temporal, so a run terminated from the UI (which never writes its row) shows
 * how it ended instead of a stale `running`.
 */
export async function liveState(deps: Deps, row: OperationRow): Promise<LiveState> {
  const fromRow: LiveState = { status: row.status, steps: row.steps, error: row.error ?? undefined, endedAt: row.endedAt ?? undefined };
  if (row.status !== 'running') return fromRow;

  const handle = deps.temporal.workflow.getHandle(row.workflowId, row.runId ?? undefined);
  let description: WorkflowExecutionDescription;
  try {
    description = await deps.temporal.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.describe());
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return lostStart(row, fromRow);
    // Temporal unreachable: a read still answers with what the catalogue knows (/readyz tells
    // the outage); starting anything would fail loudly.
    return fromRow;
  }
  const memo = description.memo as Partial<OperationMemo> | undefined;
  if (memo?.operationId !== row.id) return lostStart(row, fromRow);

  const closed = description.closeTime;
  switch (description.status.name) {
    case 'RUNNING':
      // Before a worker has completed the run's first workflow task there is nobody to answer a
      // query (it would only time out), and nothing has run yet: the row's steps are exact.
      if (description.historyLength < FIRST_TASK_COMPLETED) return fromRow;
      return { ...fromRow, steps: withRetriesInFlight(await liveSteps(deps, row, handle), description) };
    case 'COMPLETED': {
      // The workflow writes its row before it completes; re-read in case we raced that write.
      const fresh = await catalogue.getOperation(deps.db, row.id);
      if (fresh && fresh.status !== 'running') {
        return { status: fresh.status, steps: fresh.steps, error: fresh.error ?? undefined, endedAt: fresh.endedAt ?? undefined };
      }
      return { ...fromRow, status: 'failed', error: 'the workflow completed without recording its result', endedAt: closed };
    }
    case 'CANCELLED':
      return { ...fromRow, status: 'cancelled', endedAt: closed };
    case 'TERMINATED':
      return { ...fromRow, status: 'failed', error: 'the workflow was terminated', endedAt: closed };
    case 'TIMED_OUT':
      return { ...fromRow, status: 'failed', error: 'the workflow timed out', endedAt: closed };
    case 'FAILED':
      return { ...fromRow, status: 'failed', error: fromRow.error ?? 'the workflow failed', endedAt: closed };
    default:
      // CONTINUED_AS_NEW or a status newer than this code: nothing better to say than the row.
      return fromRow;
  }
}

/** A running row whose run Temporal does not know: either the start is in flight, or it died before starting. */
function lostStart(row: OperationRow, fromRow: LiveState): LiveState {
  if (!row.runId && Date.now() - row.startedAt.getTime() < START_GRACE_MS) return fromRow;
  return { ...fromRow, status: 'failed', error: 'the workflow of this operation never started', endedAt: row.startedAt };
}

async function liveSteps(deps: Deps, row: OperationRow, handle: ReturnType<Client['workflow']['getHandle']>): Promise<Step[]> {
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
 * Activity retries happen inside Temporal, out of the workflow's sight: the step running now
 * takes its attempt number and last error from the activity Temporal reports pending.
 */
function withRetriesInFlight(steps: Step[], description: WorkflowExecutionDescription): Step[] {
  const pending = description.raw.pendingActivities?.[0];
  const attempt = pending?.attempt ?? 1;
  if (attempt <= 1) return steps;
  const lastError = pending?.lastFailure?.message;
  return steps.map((step) =>
    step.status === 'running' ? { ...step, attempt, ...(lastError ? { error: `retrying after: ${lastError}` } : {}) } : step,
  );
}

export async function operationView(deps: Deps, row: OperationRow, live?: LiveState): Promise<OperationView> {
  const state = live ?? (await liveState(deps, row));
  return {
    id: row.id,
    instanceId: row.instanceId,
    kind: row.kind,
    status: state.status,
    steps: state.steps,
    ...(state.error ? { error: state.error } : {}),
    actor: row.actor,
    startedAt: row.startedAt.toISOString(),
    ...(state.endedAt ? { endedAt: state.endedAt.toISOString() } : {}),
  };
}

/** The instance as users see it: while an operation runs, its status is the one that operation implies. */
export async function instanceView(
  deps: Deps,
  { instance, running }: InstanceWithOperation,
  /** The running operation's view when the caller just made it (saves asking Temporal again). */
  known?: OperationView,
): Promise<InstanceView> {
  const current = known ?? (running ? await operationView(deps, running) : undefined);
  const active = current?.status === 'running' ? current : null;
  return {
    id: instance.id,
    slug: instance.slug,
    name: instance.name,
    plan: instance.plan,
    version: instance.version,
    status: active ? statusWhileRunning[active.kind] : instance.status,
    hostname: hostnameFor(instance.slug, deps.config.baseDomain),
    namespace: namespaceFor(instance.slug),
    ownerEmail: instance.ownerEmail,
    createdAt: instance.createdAt.toISOString(),
    updatedAt: instance.updatedAt.toISOString(),
    currentOperation: active,
  };
}

// ---- starting

const settings = (config: Config): OperationSettings => ({ rolloutTimeoutSeconds: config.rolloutTimeoutSeconds });

/**
 * Starts the workflow for an operation whose row is already inserted, then records its run id.
 * If another operation's run holds the instance's workflow id, the row is removed and the
 * caller gets a 409 naming the running operation.
 */
async function startWorkflow(
  deps: Deps,
  instance: InstanceRow,
  operation: OperationRow,
  input: object,
  discardInstance: boolean,
): Promise<OperationRow> {
  const memo: OperationMemo = { operationId: operation.id, instanceId: instance.id, kind: operation.kind };
  try {
    const handle = await deps.temporal.workflow.start(workflowTypeFor[operation.kind], {
      workflowId: workflowIdFor(instance.slug),
      taskQueue: deps.config.taskQueue,
      args: [input],
      memo: { ...memo },
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    return await catalogue.setRunId(deps.db, operation.id, handle.firstExecutionRunId);
  } catch (err) {
    await catalogue.discardOperation(deps.db, operation.id, discardInstance ? instance.id : undefined);
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw await alreadyRunning(deps, instance);
    throw err;
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
  return new Problem(
    409,
    other
      ? `operation ${other.id} (${other.kind}) is running on instance ${instance.slug}; wait for it or cancel it`
      : `another operation is running on instance ${instance.slug}`,
    other ? { operation: other } : {},
  );
}

async function requested(deps: Deps, operation: OperationRow, actor: string, message?: string): Promise<void> {
  await catalogue.recordEvent(deps.db, {
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

export async function provision(
  deps: Deps,
  request: ProvisionRequest,
  actor: string,
): Promise<{ instance: InstanceView; operation: OperationView }> {
  const plan = await catalogue.getPlan(deps.db, request.plan);
  if (!plan) {
    const known = (await catalogue.listPlans(deps.db)).map((p) => p.name).join(', ');
    throw new Problem(422, `unknown plan "${request.plan}" (plans: ${known})`, { errors: [{ field: 'plan', message: 'is not a known plan' }] });
  }
  const slug = request.slug ?? (await deriveSlug(deps, request.name));
  const version = request.version ?? deps.config.defaultVersion;
  const instanceId = catalogue.newId('ins');
  const operationId = catalogue.newId('op');
  let rows: Awaited<ReturnType<typeof catalogue.insertInstanceWithOperation>>;
  try {
    rows = await catalogue.insertInstanceWithOperation(
      deps.db,
      { id: instanceId, slug, name: request.name, plan: plan.name, version, ownerEmail: request.ownerEmail },
      { id: operationId, instanceId, kind: 'provision', workflowId: workflowIdFor(slug), actor },
    );
  } catch (err) {
    if (isUniqueViolation(err, 'instances_slug_unique')) {
      throw new Problem(409, `slug "${slug}" is taken`, { errors: [{ field: 'slug', message: 'is taken' }] });
    }
    throw err;
  }
  const operation = await startWorkflow(
    deps,
    rows.instance,
    rows.operation,
    { operationId, instanceId, slug, actor, settings: settings(deps.config), plan, version },
    true,
  );
  await requested(deps, operation, actor, `provision ${slug} on plan ${plan.name} at version ${version}`);
  const view = await operationView(deps, operation, { status: 'running', steps: operation.steps });
  return { instance: await instanceView(deps, { instance: rows.instance, running: operation }, view), operation: view };
}

async function deriveSlug(deps: Deps, name: string): Promise<string> {
  try {
    return await catalogue.slugFromNameFree(deps.db, name);
  } catch (err) {
    throw new Problem(409, err instanceof Error ? err.message : String(err), {
      errors: [{ field: 'slug', message: 'could not be derived from the name; give one' }],
    });
  }
}

function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: string; constraint_name?: string; cause?: unknown };
  if (e?.code === '23505' && e.constraint_name === constraint) return true;
  return e?.cause !== undefined && isUniqueViolation(e.cause, constraint);
}

export type InstanceOperationKind = Exclude<OperationKind, 'provision'>;

/**
 * Which operation may start from which settled status (no operation running):
 * - upgrade: from `ready`, or `failed` (an upgrade whose rollback failed is fixed by another
 *   upgrade); not to the version already running on a ready instance; never while suspended
 *   (resume first) or deleted.
 * - suspend: from `ready` only.
 * - resume: from `suspended` only.
 * - teardown (DELETE): from anything but `deleted`, so a failed or abandoned instance can
 *   always be cleaned up, and a failed teardown retried.
 */
function transitionProblem(instance: InstanceRow, kind: InstanceOperationKind, version?: string): string | undefined {
  const { status, slug } = instance;
  switch (kind) {
    case 'upgrade':
      if (status !== 'ready' && status !== 'failed') return `instance ${slug} is ${status}; only a ready or failed instance can be upgraded`;
      if (status === 'ready' && version === instance.version) return `instance ${slug} already runs version ${version}`;
      return undefined;
    case 'suspend':
      return status === 'ready' ? undefined : `instance ${slug} is ${status}; only a ready instance can be suspended`;
    case 'resume':
      return status === 'suspended' ? undefined : `instance ${slug} is ${status}; only a suspended instance can be resumed`;
    case 'teardown':
      return status === 'deleted' ? `instance ${slug} is already deleted` : undefined;
  }
}

export async function startOnInstance(
  deps: Deps,
  found: InstanceWithOperation,
  kind: InstanceOperationKind,
  actor: string,
  options: { version?: string } = {},
): Promise<OperationView> {
  return refusalsAudited(deps, found.instance.id, kind, actor, () => startChecked(deps, found, kind, actor, options));
}

/** Refused requests belong in the audit trail too: who tried what, and why it was refused. */
async function refusalsAudited<T>(deps: Deps, instanceId: string, action: string, actor: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Problem && err.status === 409) {
      await catalogue.recordEvent(deps.db, { instanceId, actor, action, outcome: 'refused', message: err.detail });
    }
    throw err;
  }
}

async function startChecked(
  deps: Deps,
  found: InstanceWithOperation,
  kind: InstanceOperationKind,
  actor: string,
  options: { version?: string },
): Promise<OperationView> {
  const { instance } = found;
  if (found.running) {
    const current = await operationView(deps, found.running);
    if (current.status === 'running') {
      throw new Problem(409, `operation ${current.id} (${current.kind}) is running on instance ${instance.slug}; wait for it or cancel it`, {
        operation: { id: current.id, kind: current.kind },
      });
    }
  }
  const problem = transitionProblem(instance, kind, options.version);
  if (problem) throw new Problem(409, problem);

  const base = { instanceId: instance.id, slug: instance.slug, actor, settings: settings(deps.config) };
  let input: object = base;
  if (kind === 'upgrade' || kind === 'resume') {
    const plan = await catalogue.getPlan(deps.db, instance.plan);
    if (!plan) throw new Error(`instance ${instance.slug} has plan ${instance.plan}, which is not in the catalogue`);
    input = kind === 'upgrade' ? { ...base, plan, version: options.version } : { ...base, plan };
  }
  const row = await catalogue.insertOperation(deps.db, {
    id: catalogue.newId('op'),
    instanceId: instance.id,
    kind,
    workflowId: workflowIdFor(instance.slug),
    actor,
  });
  const operation = await startWorkflow(deps, instance, row, { ...input, operationId: row.id }, false);
  await requested(deps, operation, actor, kind === 'upgrade' ? `upgrade ${instance.slug} from ${instance.version} to ${options.version}` : undefined);
  return operationView(deps, operation, { status: 'running', steps: operation.steps });
}

// ---- cancelling

export async function cancel(deps: Deps, row: OperationRow, actor: string): Promise<OperationView> {
  return refusalsAudited(deps, row.instanceId, 'cancel', actor, () => cancelRunning(deps, row, actor));
}

async function cancelRunning(deps: Deps, row: OperationRow, actor: string): Promise<OperationView> {
  const view = await operationView(deps, row);
  if (view.status !== 'running') throw new Problem(409, `operation ${row.id} is not running (it is ${view.status})`);
  await deps.temporal.workflow.getHandle(row.workflowId, row.runId ?? undefined).cancel();
  await catalogue.recordEvent(deps.db, {
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
