import { ApplicationFailure, CancellationScope } from '@temporalio/workflow';
import type { OperationResult } from '../domain/operations';
import type { RestoreInput } from '../domain/operation-kinds';
import { quick, transfer } from './activities';
import { takeBackup } from './backup';
import { failOperation, openRunbook, recordOutcome } from './outcome';

export const restoreSteps = [
  'record restoring',
  'verify backup',
  'begin pre-restore backup',
  'take pre-restore backup',
  'restore into a new database',
  'stop app',
  'wait for app to stop',
  'swap databases',
  'restore configuration',
  'start app',
  'wait for rollout',
  'drop previous database',
] as const;

/**
 * Puts an instance's data and configuration back as they were in one of its backups. Nothing live
 * is touched until the backup has been checked and restored in full into a database of its own;
 * then the app stops, the databases swap, and the backup's version and app secret come back. Any
 * failure or a cancel before the end swaps the live database back and starts the app as it was:
 * the live data is exactly as before, and a `pre-restore` backup holds it besides.
 */
export async function restoreInstance(input: RestoreInput): Promise<OperationResult> {
  const { slug, operationId, plan, backup } = input;
  const { rolloutTimeoutSeconds, unschedulableGraceSeconds } = input.settings;
  const { run, wait } = await openRunbook('restore', restoreSteps, input);
  const side = { slug, operationId };
  let version: string;
  try {
    await run.step('verify backup', () => transfer.verifyBackup(backup.backupId));
    const preRestore = await takeBackup(run, input, 'pre-restore', { begin: 'begin pre-restore backup', upload: 'take pre-restore backup' });
    await run.step(
      'restore into a new database',
      () => transfer.restoreIntoSideDatabase({ backupId: backup.backupId, slug, operationId }),
      () => quick.dropSideDatabases(side),
    );
    const before = await run.step('stop app', async () => {
      const workload = await quick.readWorkload(slug);
      if (!workload) throw ApplicationFailure.nonRetryable(`instance ${slug} has no app to restore under`, 'MissingDependency');
      await quick.scaleWorkload(slug, 0);
      return workload;
    }, () => quick.scaleWorkload(slug, plan.replicas));
    await run.step('wait for app to stop', () => wait.waitForRollout(slug, { timeoutSeconds: rolloutTimeoutSeconds, unschedulableGraceSeconds }));
    // A cancel during the swap lets it finish (it is one transaction) and then swaps back: never
    // a swap that lands after its undo has looked.
    await CancellationScope.nonCancellable(() =>
      run.step(
        'swap databases',
        () => quick.swapInRestoredDatabase(side),
        () => quick.swapBackPreviousDatabase(side),
      ),
    );
    ({ version } = await run.step(
      'restore configuration',
      () => quick.restoreConfiguration({ backupId: backup.backupId, slug }),
      // The configuration as it was just before, from the backup taken a moment ago.
      () => quick.restoreConfiguration({ backupId: preRestore, slug }),
    ));
    await run.step(
      'start app',
      () => quick.applyWorkload(slug, { plan, version, replicas: plan.replicas }),
      // Back to the version that ran, still stopped: the undo of "stop app" starts it.
      () => quick.applyWorkload(slug, { plan, version: before.version, replicas: 0 }),
    );
    await run.step('wait for rollout', () => wait.waitForRollout(slug, { timeoutSeconds: rolloutTimeoutSeconds, unschedulableGraceSeconds, version }));
  } catch (err) {
    return failOperation(input, run, err, input.fromStatus);
  }
  // The restored data serves: this is the point of no return. The database it replaced goes, and a
  // cancel that arrives now changes nothing (the undo would need the database being dropped).
  await CancellationScope.nonCancellable(() => run.step('drop previous database', () => quick.dropSideDatabases(side)));
  return recordOutcome(
    input,
    run,
    { status: 'succeeded', steps: run.snapshot },
    { status: 'ready', version },
    `restored from backup ${backup.backupId}, at version ${version}`,
  );
}
