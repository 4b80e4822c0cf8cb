import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BackupKind } from '../domain/backups';
import type { OperationResult } from '../domain/operations';
import type { BackupInput, OperationInputBase } from '../domain/operation-kinds';
import { closing, quick, transfer } from './activities';
import { failOperation, openRunbook, recordOutcome } from './outcome';
import { describeError, finallyRecord, type Runbook } from './runbook';

export const backupSteps = ['check instance', 'begin backup', 'back up database and configuration'] as const;

/**
 * Backs an instance up while it keeps serving (a dump is a consistent snapshot): its database,
 * its configuration and secrets (sealed), and a manifest, to object storage. A backup that does not
 * finish is marked failed and its objects removed.
 */
export async function backupInstance(input: BackupInput): Promise<OperationResult> {
  const { run } = await openRunbook('backup', backupSteps, input);
  let backupId: string;
  try {
    backupId = await takeBackup(run, input, input.backupKind, { begin: 'begin backup', upload: 'back up database and configuration' });
  } catch (err) {
    // The instance was never changed: it stays as it is, whatever the undo found.
    return failOperation(input, run, err, undefined);
  }
  return recordOutcome(input, run, { status: 'succeeded', steps: run.snapshot }, undefined, `backup ${backupId} completed`);
}

/**
 * A backup as two steps of `run` (any operation's: a restore's pre-restore backup, a delete's
 * final one): its row, then its upload, undone (marked failed, objects removed) unless it
 * completed. Announces `backup.completed` or `backup.failed`; returns the backup's id.
 */
export async function takeBackup(
  run: Runbook,
  input: OperationInputBase,
  kind: BackupKind,
  steps: { begin: string; upload: string },
): Promise<string> {
  const { instanceId, operationId, actor } = input;
  const { backupId } = await run.step(steps.begin, () => quick.beginBackup({ instanceId, operationId, kind }));
  const announce = (outcome: 'completed' | 'failed', message: string) =>
    finallyRecord(() => closing.recordEvent({ instanceId, operationId, actor, action: `${kind} backup`, outcome, message }));
  try {
    const { sizeBytes } = await run.step(
      steps.upload,
      () => transfer.takeBackup(backupId),
      () => quick.discardBackup(backupId, `operation ${operationId} ended before the backup completed`),
    );
    await announce('completed', `backup ${backupId} completed (${sizeBytes} bytes)`);
  } catch (err) {
    await announce('failed', `backup ${backupId}: ${describeError(err)}`);
    throw err;
  }
  return backupId;
}

// Removing a backup's objects is retried until the store answers: the row already says expired.
const { deleteBackupObjects } = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '5m' },
});

/** Deletes a removed backup's objects (DELETE /v1/backups/{id} marks its row expired first). */
export async function removeBackupObjects(backupId: string): Promise<void> {
  await deleteBackupObjects(backupId);
}
