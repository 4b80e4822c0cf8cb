import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import type { OperationResult } from '../domain/operations';
import type { UpgradeInput } from '../domain/operation-kinds';
import { quick } from './activities';
import { failOperation, openRunbook, recordOutcome } from './outcome';
import { describeError } from './runbook';

export const upgradeSteps = [
  'record upgrading',
  'read current version',
  'apply new version',
  'wait for rollout',
  'restore previous version',
  'wait for previous version',
] as const;

/**
 * Moves an instance to a new app version. If the new version does not roll out (or the upgrade
 * is cancelled, even while the new spec is being applied), the previous spec is restored and
 * waited on, so the customer keeps a working instance at the old version: the operation ends
 * `rolled_back`. An instance with nothing deployed (a failed provision) cannot be upgraded: the
 * operation fails at once and the instance stays `failed`, never `ready` with nothing running.
 */
export async function upgradeInstance(input: UpgradeInput): Promise<OperationResult> {
  const { slug, plan, version } = input;
  const { rolloutTimeoutSeconds, unschedulableGraceSeconds } = input.settings;
  const { run, wait } = await openRunbook('upgrade', upgradeSteps, input);
  let current: { version: string; replicas: number } | null;
  try {
    current = await run.step('read current version', () => quick.readWorkload(slug));
  } catch (err) {
    // Nothing has changed yet: the instance goes back to the status it had.
    return failOperation(input, run, err, input.fromStatus);
  }
  if (!current) {
    const nothingDeployed = ApplicationFailure.nonRetryable(
      `instance ${slug} has no workload to upgrade (nothing is deployed); delete it and provision again`,
      'NoWorkload',
    );
    return failOperation(input, run, nothingDeployed, 'failed');
  }
  const previous = current;

  try {
    await run.step('apply new version', () => quick.applyWorkload(slug, { plan, version, replicas: previous.replicas }));
    await run.step('wait for rollout', () => wait.waitForRollout(slug, { timeoutSeconds: rolloutTimeoutSeconds, unschedulableGraceSeconds, version }));
  } catch (upgradeError) {
    return rollBack(upgradeError);
  }
  return recordOutcome(input, run, { status: 'succeeded', steps: run.snapshot }, { status: 'ready', version }, `upgraded from ${previous.version} to ${version}`);

  async function rollBack(upgradeError: unknown): Promise<OperationResult> {
    const reason = describeError(upgradeError);
    try {
      // A cancel of the upgrade must not stop the way back.
      await CancellationScope.nonCancellable(async () => {
        await run.step('restore previous version', () =>
          quick.applyWorkload(slug, { plan, version: previous.version, replicas: previous.replicas }),
        );
        await run.step('wait for previous version', () =>
          wait.waitForRollout(slug, { timeoutSeconds: rolloutTimeoutSeconds, unschedulableGraceSeconds, version: previous.version }),
        );
      });
    } catch (rollbackError) {
      return failOperation(input, run, rollbackError, 'failed');
    }
    const status = isCancellation(upgradeError) ? 'cancelled' : 'rolled_back';
    const error = `upgrade to ${version} ${status === 'cancelled' ? 'cancelled' : `failed: ${reason}`}; restored ${previous.version}`;
    return recordOutcome(input, run, { status, steps: run.snapshot, error }, { status: 'ready', version: previous.version });
  }
}
