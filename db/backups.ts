// Backup rows: one per backup, its objects under `object_prefix` in the bucket it names.
import { and, asc, desc, eq, gt, inArray, lt, sql } from 'drizzle-orm';
import type { Scope } from '../domain/api-keys';
import type { BackupKind, BackupPart, BackupPolicy } from '../domain/backups';
import { backupKeyPrefix } from '../domain/backups';
import type { Database } from './client';
import { newId } from './ids';
import { ofInstancesInScope } from './instances';
import { backups, instances, operations, plans } from './schema';

export type BackupRow = typeof backups.$inferSelect;

export interface NewBackup {
  instanceId: string;
  operationId: string;
  kind: BackupKind;
  bucket: string;
  /** SHIPYARD_BACKUP_PREFIX. */
  prefix: string;
  appVersion: string;
  plan: string;
}

/**
 * The backup of `kind` that `operationId` takes, made if absent: a retried step (a worker killed
 * mid-backup) finds the row, and so the object keys, the first attempt made.
 */
export async function beginBackup(db: Database, backup: NewBackup): Promise<BackupRow> {
  const id = newId('bak');
  await db
    .insert(backups)
    .values({
      id,
      instanceId: backup.instanceId,
      operationId: backup.operationId,
      kind: backup.kind,
      bucket: backup.bucket,
      objectPrefix: backupKeyPrefix(backup.prefix, backup.instanceId, id),
      appVersion: backup.appVersion,
      plan: backup.plan,
    })
    .onConflictDoNothing({ target: [backups.operationId, backups.kind] });
  const [row] = await db
    .select()
    .from(backups)
    .where(and(eq(backups.operationId, backup.operationId), eq(backups.kind, backup.kind)));
  return row!;
}

/** A backup by id; one of an instance outside `scope` is not found. */
export async function getBackup(db: Database, id: string, scope: Scope = {}): Promise<BackupRow | undefined> {
  const [row] = await db.select().from(backups).where(and(eq(backups.id, id), ofInstancesInScope(backups.instanceId, scope)));
  return row;
}

/** Records a finished upload; a backup already completed stays as it was (a retried call). */
export async function completeBackup(
  db: Database,
  id: string,
  done: { parts: BackupPart[]; encryptionKeyId: string | null; postgresVersion: string },
): Promise<BackupRow | undefined> {
  const sizeBytes = done.parts.reduce((sum, p) => sum + p.sizeBytes, 0);
  await db
    .update(backups)
    .set({ status: 'completed', parts: done.parts, sizeBytes, encryptionKeyId: done.encryptionKeyId, postgresVersion: done.postgresVersion, completedAt: sql`now()`, error: null })
    .where(and(eq(backups.id, id), eq(backups.status, 'running')));
  return getBackup(db, id);
}

/** Marks a backup that did not finish; a completed one is never turned failed. */
export async function failBackup(db: Database, id: string, error: string): Promise<BackupRow | undefined> {
  const [row] = await db
    .update(backups)
    .set({ status: 'failed', error })
    .where(and(eq(backups.id, id), eq(backups.status, 'running')))
    .returning();
  return row;
}

/** Marks a backup whose objects are gone (retention, a delete, or found missing by the sweep). */
export async function expireBackup(db: Database, id: string, reason?: string): Promise<void> {
  await db
    .update(backups)
    .set({ status: 'expired', expiredAt: sql`now()`, ...(reason ? { error: reason } : {}) })
    .where(and(eq(backups.id, id), sql`${backups.status} <> 'expired'`));
}

/**
 * A purged instance's backups are kept `retentionDays` more (its final backup is how the customer
 * comes back), then let go by the sweep: none stays, or is billed, for ever.
 */
export async function setPurgedBackupsExpiry(db: Database, instanceId: string, retentionDays: number): Promise<void> {
  await db
    .update(backups)
    .set({ expiresAt: sql`now() + make_interval(days => ${retentionDays})` })
    .where(and(eq(backups.instanceId, instanceId), eq(backups.status, 'completed'), sql`${backups.expiresAt} is null`));
}

/** An instance's backups, newest first, a page after the backup `after`. */
export async function listBackups(db: Database, instanceId: string, page: { limit: number; after?: string }): Promise<{ items: BackupRow[]; more: boolean }> {
  const rows = await db
    .select()
    .from(backups)
    .where(and(eq(backups.instanceId, instanceId), page.after ? lt(backups.id, page.after) : undefined))
    .orderBy(desc(backups.id))
    .limit(page.limit + 1);
  return { items: rows.slice(0, page.limit), more: rows.length > page.limit };
}

/** How many completed backups an instance has (a delete may not remove the last one of an instance being deleted). */
export async function completedBackupCount(db: Database, instanceId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(backups)
    .where(and(eq(backups.instanceId, instanceId), eq(backups.status, 'completed')));
  return row?.n ?? 0;
}

// ---- sweep

/** The catalogue's clock: the backup sweep marks the operations it starts by it (see backupSweepOperation). */
export async function catalogueNow(db: Database): Promise<Date> {
  const [row] = await db.execute<{ now: string }>(sql`select now()::text as now`);
  return new Date(row!.now);
}

/** Only the instances on these plans (a test's own plan); the whole fleet when unset. */
const onPlans = (names: readonly string[] | undefined) => (names ? sql`and ${instances.plan} in ${names.length ? names : ['']}` : sql``);

/**
 * Instances due for a scheduled backup, in id order after `after`: `ready` or `suspended`, no
 * operation running, on a plan with `backup_every_hours`, and that many hours past their last
 * completed scheduled backup (or their creation, before the first one) — domain/backups.ts
 * `backupDue`, in SQL, so a sweep reads only the instances it will back up.
 */
export async function instancesDueForBackup(
  db: Database,
  page: { after?: string; limit: number; plans?: readonly string[]; instanceId?: string },
): Promise<{ id: string; slug: string }[]> {
  const rows = await db.execute<{ id: string; slug: string }>(sql`
    select ${instances.id} as id, ${instances.slug} as slug
    from ${instances}
    join ${plans} on ${plans.name} = ${instances.plan}
    where ${instances.status} in ('ready', 'suspended')
      and ${plans.backupEveryHours} is not null
      ${onPlans(page.plans)}
      ${page.after ? sql`and ${instances.id} > ${page.after}` : sql``}
      ${page.instanceId ? sql`and ${instances.id} = ${page.instanceId}` : sql``}
      and not exists (select 1 from ${operations} where ${operations.instanceId} = ${instances.id} and ${operations.status} = 'running')
      and coalesce(
            (select max(${backups.completedAt}) from ${backups}
             where ${backups.instanceId} = ${instances.id} and ${backups.kind} = 'scheduled' and ${backups.status} = 'completed'),
            ${instances.createdAt})
          <= now() - make_interval(secs => ${plans.backupEveryHours} * 3600)
    order by ${instances.id}
    limit ${page.limit}`);
  return rows.map((r) => ({ id: r.id, slug: r.slug }));
}


/** One instance's completed backups and the retention its plan sets. */
export interface RetentionCandidate {
  instanceId: string;
  policy: BackupPolicy;
  backups: BackupRow[];
}

/**
 * Instances with completed backups, in id order after `after`, each with its completed backups and
 * its plan's policy. Instances with an operation running are left for a later sweep: a restore may
 * be reading one of their backups.
 */
export async function retentionCandidates(
  db: Database,
  page: { after?: string; limit: number; plans?: readonly string[] },
): Promise<RetentionCandidate[]> {
  const owners = await db.execute<{ id: string; every: number | null; keep_count: number; keep_days: number }>(sql`
    select ${instances.id} as id, ${plans.backupEveryHours} as every, ${plans.backupKeepCount} as keep_count, ${plans.backupKeepDays} as keep_days
    from ${instances}
    join ${plans} on ${plans.name} = ${instances.plan}
    where exists (select 1 from ${backups} where ${backups.instanceId} = ${instances.id} and ${backups.status} = 'completed')
      and not exists (select 1 from ${operations} where ${operations.instanceId} = ${instances.id} and ${operations.status} = 'running')
      ${onPlans(page.plans)}
      ${page.after ? sql`and ${instances.id} > ${page.after}` : sql``}
    order by ${instances.id}
    limit ${page.limit}`);
  if (owners.length === 0) return [];
  const rows = await db
    .select()
    .from(backups)
    .where(and(inArray(backups.instanceId, owners.map((o) => o.id)), eq(backups.status, 'completed')))
    .orderBy(asc(backups.instanceId), asc(backups.id));
  return owners.map((o) => ({
    instanceId: o.id,
    policy: { everyHours: o.every === null ? null : Number(o.every), keepCount: Number(o.keep_count), keepDays: Number(o.keep_days) },
    backups: rows.filter((r) => r.instanceId === o.id),
  }));
}

/** `running` backups whose operation has ended: nothing will finish them (a run terminated mid-upload, say). */
export async function backupsLeftRunning(db: Database, limit: number, planNames?: readonly string[]): Promise<BackupRow[]> {
  const rows = await db
    .select({ backup: backups })
    .from(backups)
    .innerJoin(operations, eq(operations.id, backups.operationId))
    .innerJoin(instances, eq(instances.id, backups.instanceId))
    .where(
      and(
        eq(backups.status, 'running'),
        sql`${operations.status} <> 'running'`,
        planNames ? inArray(instances.plan, planNames.length ? [...planNames] : ['']) : undefined,
      ),
    )
    .orderBy(asc(backups.id))
    .limit(limit);
  return rows.map((r) => r.backup);
}

/** The rows of these backup ids (those that have one). */
export async function backupsByIds(db: Database, ids: readonly string[]): Promise<BackupRow[]> {
  if (ids.length === 0) return [];
  return db.select().from(backups).where(inArray(backups.id, [...ids]));
}

/**
 * Completed backups in `bucket` under `prefix`, completed before `before`, in id order after
 * `after` (optionally only of these instances): the rows whose objects the sweep expects to find.
 */
export async function completedBackupsIn(
  db: Database,
  where: { bucket: string; prefix: string; before: Date; after?: string; limit: number; instanceIds?: readonly string[] },
): Promise<BackupRow[]> {
  return db
    .select()
    .from(backups)
    .where(
      and(
        eq(backups.status, 'completed'),
        eq(backups.bucket, where.bucket),
        sql`starts_with(${backups.objectPrefix}, ${where.prefix})`,
        lt(backups.completedAt, where.before),
        where.after ? gt(backups.id, where.after) : undefined,
        where.instanceIds ? inArray(backups.instanceId, where.instanceIds.length ? [...where.instanceIds] : ['']) : undefined,
      ),
    )
    .orderBy(asc(backups.id))
    .limit(where.limit);
}

/** Ids of the instances on these plans, whatever their status (a scoped sweep looks under their prefixes only). */
export async function instanceIdsOnPlans(db: Database, planNames: readonly string[]): Promise<string[]> {
  if (planNames.length === 0) return [];
  const rows = await db.select({ id: instances.id }).from(instances).where(inArray(instances.plan, [...planNames])).orderBy(asc(instances.id));
  return rows.map((r) => r.id);
}
