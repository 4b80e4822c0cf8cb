// Starting, reading and steering fleet rollouts. A rollout's state lives in its workflow
// (`rollout:<id>`): read live by a query while it runs, from its result once it has ended. The
// list comes from Temporal's visibility store, by the search attributes every rollout run carries
// (ShipyardRollout, ShipyardVersion, ShipyardRolloutStatus): one call per page, no query to any
// workflow, no memo to decrypt.
import { randomBytes } from 'node:crypto';
import { setTimeout } from 'node:timers/promises';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { decodeMapFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import type { TypedSearchAttributes } from '@temporalio/common';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { rolloutSearchAttributes, searchAttributeKeys } from '../domain/search-attributes';
import { withSearchAttributes } from './runs';
import { temporalUiUrlFor } from './views';
import { rolloutTargets, rolloutTargetsByRegion } from '../db/instances';
import { listClusters } from '../db/clusters';
import { serialised } from '../db/client';
import {
  abortUpdateName,
  defaultRolloutStrategy,
  pauseUpdateName,
  regionOrderOf,
  regionWavesProblem,
  resumeUpdateName,
  rolloutStateQueryName,
  rolloutWorkflowIdFor,
  summarize,
  wavesProblem,
  type RolloutInput,
  type RolloutMemo,
  type RolloutSelector,
  type RolloutState,
  type RolloutStatus,
  type RolloutStrategy,
} from '../domain/rollouts';
import type { rolloutFleet } from '../workflows/rollout';
import type { Deps } from './deps';
import { RolloutRunning, InvalidRequest, InvalidTransition, NotFound, PlacementUnserved, Unprocessable } from '../domain/errors';

const QUERY_DEADLINE_MS = 2_000;
const VISIBILITY_WAIT_MS = 10_000;
const VISIBILITY_POLL_MS = 50;
const WORKFLOW_TYPE = 'rolloutFleet';
/** gRPC's status code for a request the server finds malformed (here: a page token it did not make). */
const GRPC_INVALID_ARGUMENT = 3;

export interface RolloutRequest {
  version: string;
  selector?: RolloutSelector;
  strategy?: Partial<RolloutStrategy>;
}

export interface RolloutView extends ReturnType<typeof summarize> {
  id: string;
  version: string;
  status: RolloutStatus;
  strategy: RolloutStrategy;
  startedAt: string;
  endedAt?: string;
  /** Why a rollout whose workflow ended outside its own code (terminated, failed) is `failed`. */
  error?: string;
  workflowId: string;
  runId?: string;
  temporalUiUrl?: string;
}

/** A new rollout id: time-ordered like the catalogue's ids. */
export const newRolloutId = (): string => `ro_${Date.now().toString(36)}${randomBytes(6).toString('hex')}`;

/**
 * Starts a rollout of `request.version` under `id`. Starting an id that already exists (a
 * webhook delivered twice) answers that rollout, running or ended, and starts nothing.
 */
export async function startRollout(deps: Deps, request: RolloutRequest, actor: string, id = newRolloutId()): Promise<RolloutView> {
  let strategy: RolloutStrategy = { ...defaultRolloutStrategy, ...request.strategy };
  const waves = wavesProblem(strategy.waves);
  if (waves) throw new InvalidRequest(`strategy.waves ${waves}`, [{ field: 'strategy.waves', message: waves }]);
  let selector = request.selector ?? {};
  const byRegion = regionWavesProblem(selector, strategy);
  if (byRegion) throw new InvalidRequest(`${byRegion.field} ${byRegion.message}`, [byRegion]);
  if (strategy.waveBy === 'region') {
    // Both carry the one order from here on: the selector takes only these regions' instances and
    // the workflow waves them in this order (the input's strategy, replayed as it was).
    const order = regionOrderOf(selector, strategy);
    await refuseUnservedRegions(deps, order, strategy.regions ? 'strategy.regions' : 'selector.regions');
    selector = { ...selector, regions: order };
    strategy = { ...strategy, regions: order };
  }
  const existing = await findRollout(deps, id);
  if (existing) return existing;

  const targets =
    strategy.waveBy === 'region'
      ? await rolloutTargetsByRegion(deps.db, selector, request.version, strategy.regions!)
      : (await rolloutTargets(deps.db, selector, request.version)).map((slug) => ({ slug }));
  if (targets.length === 0) {
    throw new Unprocessable(`no ready instance matches the selector ${JSON.stringify(selector)} and is not already at version ${request.version}`, [
      { field: 'selector', message: 'selects no instance' },
    ]);
  }
  // Under a lock per version, held until the new run is visible: the next request for the same
  // version waits for it and then finds it running, on any API replica.
  return serialised(deps.db, `rollout-version:${deps.config.taskQueue}:${request.version}`, async () => {
    const running = await runningRolloutOf(deps, request.version);
    if (running) throw new RolloutRunning(`rollout ${running} of version ${request.version} is running; pause, abort or wait for it`);

    const input: RolloutInput = {
      id,
      version: request.version,
      selector,
      strategy,
      actor,
      historyThreshold: deps.config.rolloutHistoryThreshold,
      busyRetries: deps.config.rolloutBusyRetries,
      busyRetrySeconds: deps.config.rolloutBusyRetrySeconds,
    };
    const memo: RolloutMemo = { rolloutId: id, version: request.version, status: 'running' };
    let runId: string;
    try {
      const handle = await withSearchAttributes(rolloutSearchAttributes({ id, version: request.version, status: 'running' }), (typedSearchAttributes) =>
        deps.temporal.workflow.start<typeof rolloutFleet>(WORKFLOW_TYPE, {
          workflowId: rolloutWorkflowIdFor(id),
          taskQueue: deps.config.taskQueue,
          args: [input],
          memo: { ...memo },
          typedSearchAttributes,
          // One rollout per id, ever: a second start of the same id finds the first.
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        }),
      );
      runId = handle.firstExecutionRunId;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      const raced = await findRollout(deps, id);
      if (raced) return raced;
      throw err;
    }
    await untilListed(deps, id);
    // Its first task has not run yet: the state it will start from.
    return view(deps, id, request.version, runId, {
      status: 'running',
      strategy,
      targets: targets.map((target) => ({ ...target, status: 'pending' })),
      wave: 0,
      startedAt: new Date().toISOString(),
      runs: 0,
    });
  });
}

/** A region in a rollout's wave order that no registered cluster serves is a typo or a retired region: 422 naming it. */
async function refuseUnservedRegions(deps: Deps, regions: string[], field: string): Promise<void> {
  const served = new Set((await listClusters(deps.db)).map((c) => c.region));
  const unserved = regions.filter((r) => !served.has(r));
  if (unserved.length > 0) {
    throw new PlacementUnserved(
      `no cluster serves region ${unserved.join(', ')}`,
      unserved.map((r) => ({ field, message: `no cluster serves region ${r}` })),
    );
  }
}

/**
 * Waits until the visibility store lists the rollout's run (it lags the start: about a second on
 * Elasticsearch, and under load on the development server too). Past the bound the start stands;
 * only the duplicate check of a request arriving meanwhile is weaker.
 */
async function untilListed(deps: Deps, id: string): Promise<void> {
  const deadline = Date.now() + VISIBILITY_WAIT_MS;
  const query = `WorkflowId = '${rolloutWorkflowIdFor(id)}'`;
  while (Date.now() < deadline) {
    const { count } = await deps.temporal.workflow.count(query);
    if (count > 0) return;
    await setTimeout(VISIBILITY_POLL_MS);
  }
}

/** The id of a running rollout of `version` on this deployment's task queue, if any. */
async function runningRolloutOf(deps: Deps, version: string): Promise<string | undefined> {
  const query = `WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND TaskQueue = '${deps.config.taskQueue}'`;
  for await (const run of deps.temporal.workflow.list({ query })) {
    const found = await rolloutOfRun(deps, run.typedSearchAttributes, () => Promise.resolve(run.memo));
    if (found?.version === version) return found.id;
  }
  return undefined;
}

/**
 * A rollout run's id, version and status, from its search attributes; a run started before they
 * existed (or on a namespace without them) has them only in its memo, decoded as a last resort.
 */
async function rolloutOfRun(
  deps: Deps,
  attributes: TypedSearchAttributes,
  memo: () => Promise<Record<string, unknown> | undefined>,
): Promise<{ id: string; version: string; status?: RolloutStatus } | undefined> {
  const id = attributes.get(searchAttributeKeys.rollout);
  const version = attributes.get(searchAttributeKeys.version);
  if (id !== undefined && version !== undefined) {
    const status = attributes.get(searchAttributeKeys.rolloutStatus);
    return { id, version, ...(status !== undefined ? { status: status as RolloutStatus } : {}) };
  }
  const old = (await memo()) as Partial<RolloutMemo> | undefined;
  return old?.rolloutId && old.version ? { id: old.rolloutId, version: old.version, ...(old.status ? { status: old.status } : {}) } : undefined;
}

/** The Temporal side of a rollout, as the API shows it beside the rollout. */
function runOf(deps: Deps, id: string, runId: string | undefined) {
  const workflowId = rolloutWorkflowIdFor(id);
  const temporalUiUrl = runId ? temporalUiUrlFor(deps.config, workflowId, runId) : undefined;
  return { workflowId, ...(runId ? { runId } : {}), ...(temporalUiUrl ? { temporalUiUrl } : {}) };
}

function view(deps: Deps, id: string, version: string, runId: string | undefined, state: RolloutState): RolloutView {
  return {
    id,
    version,
    status: state.status,
    strategy: state.strategy,
    ...summarize(state),
    startedAt: state.startedAt,
    ...(state.endedAt ? { endedAt: state.endedAt } : {}),
    ...runOf(deps, id, runId),
  };
}

async function describe(deps: Deps, id: string): Promise<WorkflowExecutionDescription | undefined> {
  try {
    const description = await deps.temporal.workflow.getHandle(rolloutWorkflowIdFor(id)).describe();
    // A workflow under this id that is not a rollout (no such id can be made by the API) is no rollout.
    return (description.memo as Partial<RolloutMemo> | undefined)?.rolloutId === id ? description : undefined;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** The rollout as it is now, or undefined when there is none with this id. */
export async function findRollout(deps: Deps, id: string): Promise<RolloutView | undefined> {
  const description = await describe(deps, id);
  if (!description) return undefined;
  const memo = description.memo as unknown as RolloutMemo;
  const handle = deps.temporal.workflow.getHandle(rolloutWorkflowIdFor(id));
  const fallback = (status: RolloutStatus, error?: string): RolloutView => ({
    id,
    version: memo.version,
    status,
    strategy: defaultRolloutStrategy,
    ...summarize({ status, strategy: defaultRolloutStrategy, targets: [], wave: 0, startedAt: '', runs: 0 }),
    startedAt: description.startTime.toISOString(),
    ...(description.closeTime ? { endedAt: description.closeTime.toISOString() } : {}),
    ...(error ? { error } : {}),
    ...runOf(deps, id, description.runId),
  });
  switch (description.status.name) {
    case 'RUNNING':
      try {
        const state = await deps.temporal.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
          handle.query<RolloutState>(rolloutStateQueryName),
        );
        return view(deps, id, memo.version, description.runId, state);
      } catch {
        // No worker has answered yet (or none is up): what the memo knows, without counts.
        return fallback(memo.status ?? 'running');
      }
    case 'COMPLETED':
      return view(deps, id, memo.version, description.runId, await handle.result());
    case 'TERMINATED':
      return fallback('failed', 'the rollout workflow was terminated');
    case 'TIMED_OUT':
      return fallback('failed', 'the rollout workflow timed out');
    case 'CANCELLED':
      return fallback('aborted', 'the rollout workflow was cancelled');
    default:
      return fallback('failed', 'the rollout workflow failed');
  }
}

export async function getRollout(deps: Deps, id: string): Promise<RolloutView> {
  const found = await findRollout(deps, id);
  if (!found) throw new NotFound(`rollout "${id}"`);
  return found;
}

export interface RolloutSummary {
  id: string;
  version: string;
  status: RolloutStatus;
  startedAt: string;
  endedAt?: string;
}

/**
 * A page of this deployment's rollouts in the visibility store's order (running ones first, then
 * the most recently ended; not every store takes ORDER BY); the cursor is Temporal's page token.
 */
export async function listRollouts(deps: Deps, page: { limit: number; cursor?: string }): Promise<{ items: RolloutSummary[]; nextCursor: string | null }> {
  const badCursor = () => new InvalidRequest('the cursor is not one this API returned', [{ field: 'cursor', message: 'is invalid' }]);
  const token = page.cursor === undefined ? undefined : tokenOf(page.cursor);
  if (token === null) throw badCursor();
  let response;
  try {
    response = await deps.temporal.workflowService.listWorkflowExecutions({
      namespace: deps.config.temporalNamespace,
      pageSize: page.limit,
      nextPageToken: token,
      query: `WorkflowType = '${WORKFLOW_TYPE}' AND TaskQueue = '${deps.config.taskQueue}'`,
    });
  } catch (err) {
    // A token of ours the store no longer takes (or a forged one) says nothing about Temporal's health.
    if (token && (err as { code?: number }).code === GRPC_INVALID_ARGUMENT) throw badCursor();
    throw err;
  }
  const items: RolloutSummary[] = [];
  for (const run of response.executions ?? []) {
    const found = await rolloutOfRun(deps, decodeTypedSearchAttributes(run.searchAttributes?.indexedFields), () =>
      decodeMapFromPayloads(deps.temporal.options.loadedDataConverter, run.memo?.fields),
    );
    if (!found) continue;
    const closed = run.closeTime?.seconds != null;
    const status: RolloutStatus = found.status ?? 'running';
    items.push({
      id: found.id,
      version: found.version,
      // A run that closed while its memo said running ended outside its own code.
      status: closed && (status === 'running' || status === 'paused' || status === 'halted') ? 'failed' : status,
      startedAt: timestamp(run.startTime)!,
      ...(closed ? { endedAt: timestamp(run.closeTime)! } : {}),
    });
  }
  const next = response.nextPageToken;
  return { items, nextCursor: next && next.length > 0 ? `${CURSOR_PREFIX}${Buffer.from(next).toString('base64url')}` : null };
}

// A cursor is Temporal's page token, marked as ours: anything else is refused before Temporal sees it.
const CURSOR_PREFIX = 'rp.';
function tokenOf(cursor: string): Buffer | null {
  const encoded = cursor.startsWith(CURSOR_PREFIX) ? cursor.slice(CURSOR_PREFIX.length) : '';
  return /^[A-Za-z0-9_-]+$/.test(encoded) ? Buffer.from(encoded, 'base64url') : null;
}

function timestamp(t: { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined): string | undefined {
  if (!t?.seconds) return undefined;
  const seconds = typeof t.seconds === 'number' ? t.seconds : t.seconds.toNumber();
  return new Date(seconds * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();
}

export type RolloutAction = 'pause' | 'resume' | 'abort';
const updateNames: Record<RolloutAction, string> = { pause: pauseUpdateName, resume: resumeUpdateName, abort: abortUpdateName };

/** Pauses, resumes or aborts a running rollout; answers its new state. A state that does not allow it is a 409. */
export async function steerRollout(deps: Deps, id: string, action: RolloutAction, body: { failureBudget?: number } = {}): Promise<RolloutView> {
  const description = await describe(deps, id);
  if (!description) throw new NotFound(`rollout "${id}"`);
  if (description.status.name !== 'RUNNING') {
    const ended = await getRollout(deps, id);
    throw new InvalidTransition(`rollout ${id} has ended (${ended.status})`);
  }
  const memo = description.memo as unknown as RolloutMemo;
  const handle = deps.temporal.workflow.getHandle(rolloutWorkflowIdFor(id));
  try {
    const state =
      action === 'resume'
        ? await handle.executeUpdate<RolloutState, [{ failureBudget?: number }]>(updateNames[action], { args: [body] })
        : await handle.executeUpdate<RolloutState, []>(updateNames[action]);
    return view(deps, id, memo.version, description.runId, state);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      throw new InvalidTransition(err.cause instanceof Error ? err.cause.message : err.message);
    }
    throw err;
  }
}
