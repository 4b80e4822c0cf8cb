import { CancellationScope, isCancellation } from '@temporalio/workflow';
import type { OperationResult } from '../domain/operations';
import type { RotateCredentialsInput } from '../domain/operation-kinds';
import { quick } from './activities';
import { failOperation, openRunbook, recordOutcome } from './outcome';
import { describeError } from './runbook';

export const rotateCredentialsSteps = [
  'check instance',
  'read current login',
  'write new credentials',
  'restart app',
  'wait for rollout',
  'disable previous login',
  'record rotation',
  'restore previous credentials',
  'restart app with previous credentials',
  'wait for previous rollout',
  'disable new login',
] as const;

/**
 * Gives an instance a new database password and a new APP_SECRET while it keeps serving. The app
 * moves to its other login role (activities/credentials.ts): that role gets a new password, the
 * Secret gets it and a new APP_SECRET, and the app restarts on them; only once it has rolled out
 * does the previous login stop working. If the rollout fails (or the rotation is cancelled before
 * then), the Secret gets the previous credentials back, the app is rolled back to them and the
 * new login is disabled: `rolled_back`, the instance as it was.
 *
 * No secret passes through here: the activities make and store them, and take and return role
 * names and the restart mark only.
 */
export async function rotateCredentials(input: RotateCredentialsInput): Promise<OperationResult> {
  const { slug, instanceId, operationId, plan } = input;
  const { rolloutTimeoutSeconds, unschedulableGraceSeconds } = input.settings;
  const { run, wait } = await openRunbook('rotate_credentials', rotateCredentialsSteps, input);
  const rollout = () => wait.waitForRollout(slug, { timeoutSeconds: rolloutTimeoutSeconds, unschedulableGraceSeconds });

  let login: { current: string; next: string; restartMark: string | null };
  try {
    login = await run.step('read current login', () => quick.readDatabaseLogin(slug));
  } catch (err) {
    // Nothing has changed: the instance stays as it is.
    return failOperation(input, run, err, undefined);
  }
  const { current, next, restartMark } = login;

  try {
    await run.step('write new credentials', () => quick.writeRotatedCredentials(slug, { from: current, to: next, connectionLimit: plan.dbConnections }));
    await run.step('restart app', () => quick.restartAppForCredentials(slug, operationId));
    await run.step('wait for rollout', rollout);
  } catch (rotationError) {
    return rollBack(rotationError);
  }

  // The app runs on the new credentials: the previous login goes, and a cancel now changes nothing.
  try {
    await CancellationScope.nonCancellable(async () => {
      await run.step('disable previous login', () => quick.disableDatabaseLogin(slug, current));
      await run.step('record rotation', () => quick.markCredentialsRotated(instanceId));
    });
  } catch (err) {
    // The app serves on the new credentials; the previous login may still work (the next rotation replaces its password).
    return failOperation(input, run, err, undefined);
  }
  return recordOutcome(
    input,
    run,
    { status: 'succeeded', steps: run.snapshot },
    undefined,
    `database login moved from ${current} to ${next} with a new password, new app secret; ${current} can no longer log in`,
  );

  async function rollBack(rotationError: unknown): Promise<OperationResult> {
    const reason = describeError(rotationError);
    try {
      // A cancel of the rotation must not stop the way back.
      await CancellationScope.nonCancellable(async () => {
        await run.step('restore previous credentials', () => quick.restorePreviousCredentials(slug, { from: current, to: next }));
        await run.step('restart app with previous credentials', () => quick.restartAppForCredentials(slug, restartMark));
        await run.step('wait for previous rollout', rollout);
        await run.step('disable new login', () => quick.disableDatabaseLogin(slug, next));
      });
    } catch (rollbackError) {
      return failOperation(input, run, rollbackError, 'failed');
    }
    const status = isCancellation(rotationError) ? 'cancelled' : 'rolled_back';
    const error = `credential rotation ${status === 'cancelled' ? 'cancelled' : `failed: ${reason}`}; the app is back on the previous credentials (${current})`;
    return recordOutcome(input, run, { status, steps: run.snapshot, error }, undefined);
  }
}
