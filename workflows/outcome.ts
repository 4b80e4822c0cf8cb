// How every operation begins and ends. It begins by claiming the instance (compare-and-set from
// the status the request was accepted in to the kind's running status), and ends with its result
// in the catalogue, an audit event and the instance's new status; on failure the saga's
// compensations run first. Recording is done outside cancellation so that a cancelled operation
// is recorded too.
import { ActivityFailure, ApplicationFailure, isCancellation, patched, setHandler } from '@temporalio/workflow';
import type { InstanceStatus } from '../domain/instance';
import { type OperationKind, kindSpec, type OperationInputBase } from '../domain/operation-kinds';
import type { OperationResult } from '../domain/operations';
import { closing, placeOn, quick, waiting } from './activities';
import { progressQuery } from './queries';
import { describeError, finallyRecord, Runbook } from './runbook';

/**
 * The opening every operation's runbook shares: its steps answer the progress query from the
 * start, its waits are set up, and its first step claims the instance.
 */
export async function openRunbook(
  kind: OperationKind,
  stepNames: readonly string[],
  input: OperationInputBase,
): Promise<{ run: Runbook; wait: ReturnType<typeof waiting> }> {
  placeOn(input.placement);
  const wait = waiting(input.settings);
  const run = new Runbook(kind, stepNames);
  setHandler(progressQuery, () => run.progress());
  await claim(run, input);
  return { run, wait };
}

/**
 * The operation's first step. If the instance is no longer in the status the request saw (another
 * path moved it), the operation fails without touching the instance: it is not ours to change.
 * Any other end of the claim (a cancel, or a failure after the compare-and-set committed, e.g. an
 * attempt that lost its reply) may have moved the instance to the running status: it goes back to
 * where it was, and a new instance (which was already in the running status) becomes what the kind
 * declares for a run that did not finish.
 */
export async function claim(run: Runbook, input: OperationInputBase): Promise<void> {
  const spec = kindSpec(run.kind);
  // A kind that keeps the instance's status claims it all the same (from → from): the check that it is still there.
  const to = spec.runningStatus ?? input.fromStatus;
  try {
    await run.step(run.firstStep, () =>
      quick.claimInstance({ instanceId: input.instanceId, operationId: input.operationId, from: input.fromStatus, to }),
    );
  } catch (err) {
    const back = input.fromStatus === to ? (spec.abandoned.status ?? undefined) : input.fromStatus;
    await failOperation(input, run, err, instanceMoved(err) ? undefined : back);
  }
}

function instanceMoved(err: unknown): boolean {
  // A local activity's failure reaches the workflow as it was thrown; an activity task's, wrapped.
  const failure = err instanceof ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure && failure.type === 'InstanceMoved';
}

/**
 * The patch under which an operation's end (the instance's new status, the audit event, the
 * result) is one call, written in one transaction, instead of three: each local activity cost the
 * worker a workflow activation and an encrypted payload each way, and the workflow sandbox was the
 * largest cost in a profile of 200 provisions. Runs from before the patch end with three calls, as
 * their histories say.
 */
export const ONE_CLOSING_CALL = 'one-closing-call';

export async function recordOutcome(
  input: OperationInputBase,
  run: Runbook,
  result: OperationResult,
  /** The instance's new status (and version); undefined leaves the instance as it is. */
  instance: { status: InstanceStatus; version?: string; plan?: string } | undefined,
  message?: string,
): Promise<OperationResult> {
  const event = {
    instanceId: input.instanceId,
    operationId: input.operationId,
    actor: input.actor,
    action: run.kind,
    outcome: result.status,
    message: message ?? result.error,
  };
  await finallyRecord(async () => {
    if (patched(ONE_CLOSING_CALL)) {
      await closing.closeOperation({ ...(instance ? { instance } : {}), event, result });
      return;
    }
    if (instance) await closing.markInstance(input.instanceId, instance);
    await closing.recordEvent(event);
    await closing.finishOperation(input.operationId, result);
  });
  return result;
}

/**
 * Undoes what `run` started, records the failure (or cancellation), and rethrows so the workflow
 * run itself shows Failed or Cancelled in the Temporal UI. The instance gets `statusIfUndone` when
 * every undo succeeded; when one did not, the world may be half-changed and it is `failed`.
 */
export async function failOperation(
  input: OperationInputBase,
  run: Runbook,
  err: unknown,
  statusIfUndone: InstanceStatus | undefined,
): Promise<never> {
  const cancelled = isCancellation(err);
  const problems = await run.compensate();
  const error = [describeError(err), ...problems].join('; ');
  const status = statusIfUndone === undefined ? undefined : problems.length > 0 ? 'failed' : statusIfUndone;
  await recordOutcome(input, run, { status: cancelled ? 'cancelled' : 'failed', steps: run.snapshot, error }, status && { status });
  if (cancelled) throw err;
  throw ApplicationFailure.nonRetryable(`${run.kind} failed: ${error}`, 'OperationFailed');
}
