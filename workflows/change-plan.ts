import { CancellationScope, isCancellation } from '@temporalio/workflow';
import type { Plan } from '../domain/instance';
import type { OperationResult } from '../domain/operations';
import type { ChangePlanInput } from '../domain/operation-kinds';
import { quick } from './activities';
import { failOperation, openRunbook, recordOutcome } from './outcome';
import { describeError } from './runbook';

export const changePlanSteps = [
  'record changing plan',
  'check capacity',
  'read current workload',
  'apply new quota',
  'set connection limit',
  'apply new size',
  'wait for rollout',
  'restore previous plan',
  'wait for previous plan',
  'restore previous quota',
] as const;

/**
 * Moves an instance to another plan: namespace quota and limit range, the tenant role's
 * connection limit, and the workload's size (a suspended instance keeps 0 replicas). The cluster
 * must have room for the new quota first; if it has not, nothing is changed. If the new size does
 * not roll out (or the change is cancelled), the previous plan is applied again and waited on:
 * the operation ends `rolled_back` and the instance keeps its old plan.
 */
export async function changeInstancePlan(input: ChangePlanInput): Promise<OperationResult> {
  const { slug, plan: previous, newPlan } = input;
  const { rolloutTimeoutSeconds, unschedulableGraceSeconds } = input.settings;
  const { run, wait } = await openRunbook('change_plan', changePlanSteps, input);
  let current: { version: string; replicas: number } | null;
  try {
    await run.step('check capacity', () => quick.checkCapacity(slug, newPlan));
    current = await run.step('read current workload', () => quick.readWorkload(slug));
  } catch (err) {
    // Nothing has changed yet: the instance goes back to the status it had.
    return failOperation(input, run, err, input.fromStatus);
  }
  // Without a workload there is only the quota and the role to resize; a suspended instance stays at zero.
  const version = current?.version;
  const replicasFor = (plan: Plan) => (input.fromStatus === 'suspended' ? 0 : plan.replicas);

  try {
    await run.step('apply new quota', () => quick.applyNamespace(slug, newPlan));
    await run.step('set connection limit', () => quick.ensureTenantDatabase(slug, { connectionLimit: newPlan.dbConnections }));
    if (version !== undefined) {
      await run.step('apply new size', () => quick.applyWorkload(slug, { plan: newPlan, version, replicas: replicasFor(newPlan) }));
      await run.step('wait for rollout', () => wait.waitForRollout(slug, { timeoutSeconds: rolloutTimeoutSeconds, unschedulableGraceSeconds, version }));
    }
  } catch (changeError) {
    const reason = describeError(changeError);
    try {
      // A cancel of the change must not stop the way back. Pods of the new size (perhaps never
      // scheduled) still count against the quota until the controller replaces them, so the
      // quota holds room for both plans while the previous size rolls out, and only then shrinks.
      await CancellationScope.nonCancellable(async () => {
        await run.step('restore previous plan', async () => {
          await quick.applyNamespace(slug, previous, { alsoRoomFor: newPlan });
          await quick.ensureTenantDatabase(slug, { connectionLimit: previous.dbConnections });
          if (version !== undefined) await quick.applyWorkload(slug, { plan: previous, version, replicas: replicasFor(previous) });
        });
        if (version !== undefined) {
          await run.step('wait for previous plan', () =>
            wait.waitForRollout(slug, { timeoutSeconds: rolloutTimeoutSeconds, unschedulableGraceSeconds, version }),
          );
        }
        await run.step('restore previous quota', () => quick.applyNamespace(slug, previous));
      });
    } catch (rollbackError) {
      return failOperation(input, run, rollbackError, 'failed');
    }
    const status = isCancellation(changeError) ? 'cancelled' : 'rolled_back';
    const error = `change to plan ${newPlan.name} ${status === 'cancelled' ? 'cancelled' : `failed: ${reason}`}; restored plan ${previous.name}`;
    return recordOutcome(input, run, { status, steps: run.snapshot, error }, { status: input.fromStatus });
  }
  return recordOutcome(
    input,
    run,
    { status: 'succeeded', steps: run.snapshot },
    { status: input.fromStatus, plan: newPlan.name },
    `changed plan from ${previous.name} to ${newPlan.name}`,
  );
}
