import { setHandler } from '@temporalio/workflow';
import type { OperationResult, ResumeInput, SuspendInput } from '../domain/operations';
import { quick, waiting } from './activities';
import { failOperation, recordOutcome } from './outcome';
import { progressQuery } from './queries';
import { Runbook } from './runbook';

export const suspendSteps = ['record suspending', 'read current replicas', 'scale to zero', 'wait for pods to stop'] as const;
export const resumeSteps = ['record resuming', 'scale up', 'wait for rollout'] as const;

/** Scales an instance to zero; its database, secrets, DNS name and certificate stay. */
export async function suspendInstance(input: SuspendInput): Promise<OperationResult> {
  const { slug, instanceId } = input;
  const wait = waiting(input.settings);
  const run = new Runbook('suspend', suspendSteps);
  setHandler(progressQuery, () => run.progress());

  try {
    await run.step('record suspending', () => quick.markInstance(instanceId, { status: 'suspending' }));
    const current = await run.step('read current replicas', () => quick.readWorkload(slug));
    const replicas = current?.replicas ?? 0;
    await run.step(
      'scale to zero',
      () => quick.scaleWorkload(slug, 0),
      () => quick.scaleWorkload(slug, replicas),
    );
    await run.step('wait for pods to stop', () =>
      wait.waitForRollout(slug, { timeoutSeconds: input.settings.rolloutTimeoutSeconds }),
    );
  } catch (err) {
    return failOperation(input, run, err, 'ready');
  }
  return recordOutcome(input, 'suspend', { status: 'succeeded', steps: run.snapshot }, { status: 'suspended' });
}

/** Scales a suspended instance back to its plan's replicas and waits until it serves again. */
export async function resumeInstance(input: ResumeInput): Promise<OperationResult> {
  const { slug, plan, instanceId } = input;
  const wait = waiting(input.settings);
  const run = new Runbook('resume', resumeSteps);
  setHandler(progressQuery, () => run.progress());

  try {
    await run.step('record resuming', () => quick.markInstance(instanceId, { status: 'resuming' }));
    await run.step(
      'scale up',
      () => quick.scaleWorkload(slug, plan.replicas),
      () => quick.scaleWorkload(slug, 0),
    );
    await run.step('wait for rollout', () =>
      wait.waitForRollout(slug, { timeoutSeconds: input.settings.rolloutTimeoutSeconds }),
    );
  } catch (err) {
    return failOperation(input, run, err, 'suspended');
  }
  return recordOutcome(input, 'resume', { status: 'succeeded', steps: run.snapshot }, { status: 'ready' });
}
