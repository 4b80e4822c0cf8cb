import type { OperationResult } from '../domain/operations';
import type { ResumeInput, SuspendInput } from '../domain/operation-kinds';
import { quick } from './activities';
import { failOperation, openRunbook, recordOutcome } from './outcome';

export const suspendSteps = ['record suspending', 'read current replicas', 'scale to zero', 'wait for pods to stop'] as const;
export const resumeSteps = ['record resuming', 'scale up', 'wait for rollout'] as const;

/** Scales an instance to zero; its database, secrets, DNS name and certificate stay. */
export async function suspendInstance(input: SuspendInput): Promise<OperationResult> {
  const { slug } = input;
  const { rolloutTimeoutSeconds, unschedulableGraceSeconds } = input.settings;
  const { run, wait } = await openRunbook('suspend', suspendSteps, input);
  try {
    const current = await run.step('read current replicas', () => quick.readWorkload(slug));
    const replicas = current?.replicas ?? 0;
    await run.step(
      'scale to zero',
      () => quick.scaleWorkload(slug, 0),
      () => quick.scaleWorkload(slug, replicas),
    );
    await run.step('wait for pods to stop', () => wait.waitForRollout(slug, { timeoutSeconds: rolloutTimeoutSeconds, unschedulableGraceSeconds }));
  } catch (err) {
    return failOperation(input, run, err, input.fromStatus);
  }
  return recordOutcome(input, run, { status: 'succeeded', steps: run.snapshot }, { status: 'suspended' });
}

/** Scales a suspended instance back to its plan's replicas and waits until it serves again. */
export async function resumeInstance(input: ResumeInput): Promise<OperationResult> {
  const { slug, plan } = input;
  const { rolloutTimeoutSeconds, unschedulableGraceSeconds } = input.settings;
  const { run, wait } = await openRunbook('resume', resumeSteps, input);
  try {
    await run.step(
      'scale up',
      () => quick.scaleWorkload(slug, plan.replicas),
      () => quick.scaleWorkload(slug, 0),
    );
    await run.step('wait for rollout', () => wait.waitForRollout(slug, { timeoutSeconds: rolloutTimeoutSeconds, unschedulableGraceSeconds }));
  } catch (err) {
    return failOperation(input, run, err, input.fromStatus);
  }
  return recordOutcome(input, run, { status: 'succeeded', steps: run.snapshot }, { status: 'ready' });
}
