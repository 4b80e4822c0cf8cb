// How every operation ends: its result in the catalogue, an audit event, the instance's new
// status; on failure the saga's compensations first. Done outside cancellation so that a
// cancelled operation is recorded too.
import { ApplicationFailure, isCancellation } from '@temporalio/workflow';
import type { InstanceStatus, OperationKind } from '../domain/instance';
import type { OperationResult } from '../domain/operations';
import { quick } from './activities';
import { describeError, finallyRecord, type Runbook } from './runbook';

export interface OperationRef {
  instanceId: string;
  operationId: string;
  actor: string;
}

export async function recordOutcome(
  ref: OperationRef,
  kind: OperationKind,
  result: OperationResult,
  instance: { status: InstanceStatus; version?: string },
  message?: string,
): Promise<OperationResult> {
  await finallyRecord(async () => {
    await quick.markInstance(ref.instanceId, instance);
    await quick.recordEvent({
      instanceId: ref.instanceId,
      operationId: ref.operationId,
      actor: ref.actor,
      action: kind,
      outcome: result.status,
      message: message ?? result.error,
    });
    await quick.finishOperation(ref.operationId, result);
  });
  return result;
}

/**
 * Undoes what `run` did, records the failure (or cancellation), and rethrows so the workflow
 * run itself shows Failed or Cancelled in the Temporal UI.
 */
export async function failOperation(
  ref: OperationRef,
  run: Runbook,
  err: unknown,
  instanceStatusAfter: InstanceStatus,
): Promise<never> {
  const cancelled = isCancellation(err);
  const problems = await run.compensate();
  const error = [describeError(err), ...problems].join('; ');
  await recordOutcome(ref, run.kind, { status: cancelled ? 'cancelled' : 'failed', steps: run.snapshot, error }, {
    status: instanceStatusAfter,
  });
  if (cancelled) throw err;
  throw ApplicationFailure.nonRetryable(`${run.kind} failed: ${error}`, 'OperationFailed');
}
