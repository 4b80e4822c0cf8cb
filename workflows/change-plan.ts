import { CancellationScope, isCancellation, setHandler } from '@temporalio/workflow';
import type { Plan } from '../domain/instance';
import type { ChangePlanInput, OperationResult } from '../domain/operations';
import { quick, waiting } from './activities';
import { claim, failOperation, recordOutcome } from './outcome';
import { progressQuery } from './queries';
import { describeError, Runbook } from './runbook';

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
  const wait = waiting(input.settings);
  const run = new Runbook('change_plan', changePlanSteps);
  setHandler(progressQuery, () => run.progress());

  await claim(run, input);
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

  const applyPlan = async (plan: Plan, steps: { quota: string; limit: string; size: string; wait: string }) => {
    await run.step(steps.quota, () => quick.applyNamespace(slug, plan));
    await run.step(steps.limit, () => quick.ensureTenantDatabase(slug, { connectionLimit: plan.dbConnections }));
    if (version === undefined) return;
    await run.step(steps.size, () => quick.applyWorkload(slug, { plan, version, replicas: replicasFor(plan) }));
    await run.step(steps.wait, () => wait.waitForRollout(slug, { timeoutSeconds: rolloutTimeoutSeconds, unschedulableGraceSeconds, version }));
  };

  try {
    await applyPlan(newPlan, { quota: 'apply new quota', limit: 'set connection limit', size: 'apply new size', wait: 'wait for rollout' });
  } catch (changeError) {
    const reason = describeError(changeError);
    try {
      // A cancel of the change must not stop the way back.
      await CancellationScope.nonCancellable(() =>
        applyPlan(previous, { quota: 'restore previous plan', limit: 'restore previous plan', size: 'restore previous plan', wait: 'wait for previous plan' }),
      );
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
