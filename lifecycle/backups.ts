// Backups as callers see them, and the requests that name one: a restore (a backup of the same
// instance), a clone (any completed backup), an undelete, and removing a backup. Taking one is an
// operation of its own (the `backup` kind); the data moves in the worker, never here.
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { Scope } from '../domain/api-keys';
import { BackupInUse, InvalidTransition, NotFound } from '../domain/errors';
import { undeleteUpdateName, workflowIdFor } from '../domain/operations';
import { completedBackupCount, expireBackup, getBackup, listBackups, type BackupRow } from '../db/backups';
import { findInstance } from '../db/instances';
import { getOperation } from '../db/operations';
import type { Deps } from './deps';
import { operationView } from './live';
import type { OperationView } from './views';

export interface BackupView {
  id: string;
  instanceId: string;
  operationId: string;
  kind: BackupRow['kind'];
  status: BackupRow['status'];
  sizeBytes: number;
  parts: BackupRow['parts'];
  appVersion: string;
  plan: string;
  postgresVersion?: string;
  encryptionKeyId?: string;
  error?: string;
  startedAt: string;
  completedAt?: string;
  expiresAt?: string;
  expiredAt?: string;
}

export function backupView(row: BackupRow): BackupView {
  return {
    id: row.id,
    instanceId: row.instanceId,
    operationId: row.operationId,
    kind: row.kind,
    status: row.status,
    sizeBytes: row.sizeBytes,
    parts: row.parts,
    appVersion: row.appVersion,
    plan: row.plan,
    ...(row.postgresVersion ? { postgresVersion: row.postgresVersion } : {}),
    ...(row.encryptionKeyId ? { encryptionKeyId: row.encryptionKeyId } : {}),
    ...(row.error ? { error: row.error } : {}),
    startedAt: row.startedAt.toISOString(),
    ...(row.completedAt ? { completedAt: row.completedAt.toISOString() } : {}),
    ...(row.expiresAt ? { expiresAt: row.expiresAt.toISOString() } : {}),
    ...(row.expiredAt ? { expiredAt: row.expiredAt.toISOString() } : {}),
  };
}

async function knownBackup(deps: Deps, backupId: string, scope: Scope): Promise<BackupRow> {
  const row = await getBackup(deps.db, backupId, scope);
  if (!row) throw new NotFound(`backup "${backupId}"`);
  return row;
}

export async function backupById(deps: Deps, backupId: string, scope: Scope): Promise<BackupView> {
  return backupView(await knownBackup(deps, backupId, scope));
}

export async function instanceBackups(
  deps: Deps,
  idOrSlug: string,
  page: { limit: number; after?: string },
  scope: Scope,
): Promise<{ items: BackupView[]; more: boolean }> {
  const found = await findInstance(deps.db, idOrSlug, scope);
  if (!found) throw new NotFound(`instance "${idOrSlug}"`);
  const rows = await listBackups(deps.db, found.instance.id, page);
  return { items: rows.items.map(backupView), more: rows.more };
}

/**
 * Removes a backup: its row says `expired` at once and its objects are deleted by the worker. The
 * only completed backup of an instance being deleted (or purged) is its way back, and is kept.
 */
export async function removeBackup(deps: Deps, backupId: string, actor: string, scope: Scope): Promise<BackupView> {
  const row = await knownBackup(deps, backupId, scope);
  if (row.status === 'running') throw new BackupInUse(`backup ${backupId} is still being taken; cancel its operation ${row.operationId} instead`);
  if (row.status === 'completed') {
    const found = await findInstance(deps.db, row.instanceId);
    const status = found?.running?.kind === 'teardown' ? 'deleting' : found?.instance.status;
    if ((status === 'deleting' || status === 'deleted') && (await completedBackupCount(deps.db, row.instanceId)) <= 1) {
      throw new BackupInUse(`backup ${backupId} is the only completed backup of ${found!.instance.slug}, which is ${status}: it is the way back, and is kept`);
    }
  }
  await expireBackup(deps.db, backupId, `removed by ${actor}`);
  // Started under the backup's own id: a repeated request finds the run already there.
  await deps.temporal.workflow
    .start('removeBackupObjects', { taskQueue: deps.config.taskQueue, workflowId: `backup-removal:${backupId}`, args: [backupId] })
    .catch((err: unknown) => {
      if (!(err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError')) throw err;
    });
  return backupView((await getBackup(deps.db, backupId))!);
}

/**
 * Takes back a delete in its grace period: the delete operation hears it (an update), starts the
 * app again and ends `rolled_back`, the instance back where it was. Refused once the purge runs.
 */
export async function undelete(deps: Deps, idOrSlug: string, actor: string, scope: Scope): Promise<OperationView> {
  const found = await findInstance(deps.db, idOrSlug, scope);
  if (!found) throw new NotFound(`instance "${idOrSlug}"`);
  const { instance, running } = found;
  if (running?.kind !== 'teardown') {
    throw new InvalidTransition(`instance ${instance.slug} is ${instance.status}, not deleting; only a delete in its grace period can be undone`);
  }
  const handle = deps.temporal.workflow.getHandle(workflowIdFor(instance.slug), running.runId ?? undefined);
  try {
    await handle.executeUpdate(undeleteUpdateName, { args: [actor] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      throw new InvalidTransition(err.cause?.message ?? `instance ${instance.slug} can no longer be undeleted`);
    }
    throw err;
  }
  return operationView(deps, (await getOperation(deps.db, running.id)) ?? running);
}
