// The Temporal side of an operation: the run behind its catalogue row, described, started, and
// why it closed. Every operation of an instance runs under the workflow id `instance:<slug>` with
// conflict policy FAIL, so Temporal itself admits one run per instance at a time.
import { type WorkflowExecutionDescription, WorkflowNotFoundError } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import protos from '@temporalio/proto';
import type { OperationKindSpec } from '../domain/operation-kinds';
import { workflowIdFor, type OperationMemo } from '../domain/operations';
import type { OperationRow } from '../db/operations';
import { failureMessage } from '../temporal/data-converter';
import type { Deps } from './deps';

/** How long a read waits on Temporal before falling back to what the catalogue knows. */
export const QUERY_DEADLINE_MS = 2_000;

export type Described = WorkflowExecutionDescription | 'not-found' | 'unreachable';

export async function describeRun(deps: Deps, row: Pick<OperationRow, 'workflowId' | 'runId'>): Promise<Described> {
  const handle = deps.temporal.workflow.getHandle(row.workflowId, row.runId ?? undefined);
  try {
    return await deps.temporal.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.describe());
  } catch (err) {
    // Temporal unreachable: a read still answers with what the catalogue knows (/readyz tells the
    // outage) and the next read or scheduled reconcile tries again.
    return err instanceof WorkflowNotFoundError ? 'not-found' : 'unreachable';
  }
}

/** Whether `run` is the run of operation `operationId` (its memo names it). */
export function runOf(run: Described, operationId: string): run is WorkflowExecutionDescription {
  return run !== 'not-found' && run !== 'unreachable' && (run.memo as Partial<OperationMemo> | undefined)?.operationId === operationId;
}

/** The operation whose run holds the instance's workflow id now, from its memo. */
export async function operationHoldingInstance(deps: Deps, slug: string): Promise<{ id: string; kind: string } | undefined> {
  try {
    const memo = (await deps.temporal.workflow.getHandle(workflowIdFor(slug)).describe()).memo as Partial<OperationMemo> | undefined;
    return memo?.operationId && memo.kind ? { id: memo.operationId, kind: memo.kind } : undefined;
  } catch {
    // It may have finished in between.
    return undefined;
  }
}

/**
 * Starts the run of `spec`'s workflow. The kind table's input builder returns what that workflow
 * takes; `workflows/index.ts` checks the pairing at compile time.
 */
export function startRun(deps: Deps, spec: OperationKindSpec, slug: string, input: unknown, memo: OperationMemo, searchAttributes: SearchAttributePair[]) {
  return withSearchAttributes(searchAttributes, (typedSearchAttributes) =>
    deps.temporal.workflow.start(spec.workflowType, {
      workflowId: workflowIdFor(slug),
      taskQueue: deps.config.taskQueue,
      args: [input],
      memo: { ...memo },
      typedSearchAttributes,
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    }),
  );
}

/** gRPC's status code for a request the server finds malformed. */
const GRPC_INVALID_ARGUMENT = 3;

/**
 * Starts a run with its search attributes; if the namespace does not know them (the worker could
 * not register them and the chart's hook did not run), starts it without: a run that cannot be
 * found by them is better than an operation refused. The worker says at start why they are missing.
 */
export async function withSearchAttributes<T>(pairs: SearchAttributePair[], start: (pairs: SearchAttributePair[]) => Promise<T>): Promise<T> {
  try {
    return await start(pairs);
  } catch (err) {
    const unknownAttribute = (err as { code?: number }).code === GRPC_INVALID_ARGUMENT && /search attribute/i.test((err as Error).message);
    if (!unknownAttribute) throw err;
    return start([]);
  }
}

/** Why a run closed, from its close event: the termination reason an operator typed, the timeout, the failure. */
export async function closeReason(deps: Deps, row: OperationRow, run: WorkflowExecutionDescription): Promise<string> {
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
