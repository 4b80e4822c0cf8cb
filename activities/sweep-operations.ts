// One instance's operation on behalf of a fleet-wide run (a rollout, the backup sweep, the
// credential rotation sweep): started through the same path an API call takes
// (lifecycle/operations.ts), so it shows in the instance's operations and keeps one operation per
// instance, and waited on until it ends, heartbeating.
import { findInstance, runningOperation } from '../db/instances';
import { getOperation, operationByActor, type OperationRow } from '../db/operations';
import { InvalidTransition, OperationRunning } from '../domain/errors';
import type { OperationKind, OperationRequest } from '../domain/operation-kinds';
import { neverStarted, reconcileOperation, startOnInstance, type InstanceOperationKind } from '../lifecycle/operations';
import type { ActivityDeps } from './deps';
import { pollUntil } from './poll';

const POLL_MS = 2_000;
/** How often a wait asks Temporal whether the run of an operation still running in the catalogue has closed. */
const RECONCILE_EVERY_MS = 10_000;

export type EndedOperation = OperationRow & { status: Exclude<OperationRow['status'], 'running'> };

/** Waits, heartbeating `detail`, until `operation` has ended (settling it if its run closed without saying). */
export async function operationEnd(deps: ActivityDeps, operation: OperationRow, detail: (operationId: string) => string): Promise<EndedOperation> {
  let ended: EndedOperation | undefined;
  let reconciledAt = Number.NEGATIVE_INFINITY;
  await pollUntil(async (attempt) => {
    // After a pause the row is read again: its run may have moved on meanwhile.
    if (attempt > 0) operation = (await getOperation(deps.db, operation.id)) ?? operation;
    // A run records its own end in the row; asking Temporal about it (a describe, its memo
    // decrypted) is only for a run that closed without saying, so once every RECONCILE_EVERY_MS:
    // asked on every look, 50 upgrades in flight made it a good part of a rollout's worker CPU.
    if (operation.status === 'running' && Date.now() - reconciledAt < RECONCILE_EVERY_MS) return { detail: detail(operation.id) };
    reconciledAt = Date.now();
    const { row } = await reconcileOperation(deps, operation);
    if (row.status !== 'running') {
      ended = { ...row, status: row.status };
      return true;
    }
    operation = row;
    return { detail: detail(row.id) };
  }, POLL_MS);
  return ended!;
}

export type SweepOutcome =
  | { status: 'succeeded'; operationId: string }
  /** The operation failed (operationId set), or the activity could not find out (the workflow's own). */
  | { status: 'failed'; error: string; operationId?: string }
  /** Another operation runs on the instance: nothing was started, the next sweep tries again. */
  | { status: 'busy'; error: string }
  /** The instance may not have it now (gone, moved to another status, no longer due). */
  | { status: 'refused'; error: string };

/**
 * Runs `kind` on `slug` for the sweep that began at `since` and waits for the operation's end.
 * Safe to retry (a worker killed mid-wait): the operation this sweep started on the instance (by
 * `actor`, started since `since`) is waited on again, never started twice; one whose run never
 * started is settled by the reconcile, which leaves the instance as it was, and then requested
 * again. An instance no longer due is busy (another operation started on it since the page was
 * read) or refused (another sweep got there first, its status or plan changed).
 */
export async function operationForSweep(
  deps: ActivityDeps,
  sweep: {
    slug: string;
    kind: InstanceOperationKind & OperationKind;
    actor: string;
    since: Date;
    request?: OperationRequest;
    /** What the operation is called in messages ("backup", "credential rotation"). */
    noun: string;
    /** Which sweep, for the wait's detail. */
    sweepWorkflowId: string;
    stillDue(instanceId: string): Promise<boolean>;
  },
): Promise<SweepOutcome> {
  const { slug, kind, actor, noun } = sweep;
  for (;;) {
    const found = await findInstance(deps.db, slug);
    if (!found) return { status: 'refused', error: `instance ${slug} no longer exists` };
    let operation = await operationByActor(deps.db, found.instance.id, kind, actor, sweep.since);
    if (!operation || neverStarted(operation)) {
      if (!(await sweep.stillDue(found.instance.id))) {
        const running = await runningOperation(deps.db, found.instance.id);
        if (running) return { status: 'busy', error: `operation ${running.id} (${running.kind}) runs on instance ${slug}` };
        return { status: 'refused', error: `instance ${slug} is no longer due for a ${noun}` };
      }
      try {
        const started = await startOnInstance(deps, found, kind, actor, sweep.request);
        operation = (await getOperation(deps.db, started.id))!;
      } catch (err) {
        if (!(err instanceof OperationRunning || err instanceof InvalidTransition)) throw err;
        // Refused because another operation runs (busy, try later), or because of the status.
        const busy = err instanceof OperationRunning || (await runningOperation(deps.db, found.instance.id)) !== undefined;
        return { status: busy ? 'busy' : 'refused', error: err.message };
      }
    }
    const ended = await operationEnd(deps, operation, (id) => `waiting for ${noun} ${id} of ${slug} (sweep ${sweep.sweepWorkflowId})`);
    if (neverStarted(ended)) continue;
    if (ended.status === 'succeeded') return { status: 'succeeded', operationId: ended.id };
    return { status: 'failed', operationId: ended.id, error: ended.error ?? `the ${noun} operation ended ${ended.status}` };
  }
}
