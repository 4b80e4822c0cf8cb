// The vocabulary of backups: what a backup is, which parts it holds, where they live in object
// storage, and which backups retention lets go. Pure (no I/O): workflows, activities, the API and
// the catalogue all read it.

/** Why a backup was taken: asked for, due by the plan, the last before a purge, or the undo point of a restore. */
export const backupKinds = ['manual', 'scheduled', 'final', 'pre-restore', 'pre-move'] as const;
export type BackupKind = (typeof backupKinds)[number];

export const backupStatuses = ['running', 'completed', 'failed', 'expired'] as const;
export type BackupStatus = (typeof backupStatuses)[number];

/** The objects of one backup, each under its backup's key prefix. */
export const backupPartNames = {
  /** `pg_dump` custom format of the tenant database (`--no-owner --no-privileges`). */
  database: 'database.dump',
  /** The instance's configuration and secrets, sealed with Shipyard's encryption keyring. */
  configuration: 'configuration.sealed',
  /** What the backup holds, written last: a backup without it was never finished. */
  manifest: 'manifest.json',
} as const;
export type BackupPartName = (typeof backupPartNames)[keyof typeof backupPartNames];

export interface BackupPart {
  name: BackupPartName;
  sizeBytes: number;
  /** Hex SHA-256 of the object's bytes. */
  sha256: string;
}

/** The manifest object: enough to know what a backup holds without the catalogue. */
export interface BackupManifest {
  backupId: string;
  instanceId: string;
  slug: string;
  kind: BackupKind;
  createdAt: string;
  postgresServerVersion: string;
  shipyardVersion: string;
  /** Id of the key that sealed the configuration part (null: encryption off, the part is plain JSON). */
  encryptionKeyId: string | null;
  /** The database and configuration parts (the manifest does not describe itself). */
  parts: BackupPart[];
}

/** The configuration part, before sealing: what a restore puts back beside the data. */
export interface BackupConfiguration {
  plan: string;
  version: string;
  hostname: string;
  /** The instance's app secret (APP_SECRET in its Secret). */
  appSecret: string;
}

/** `<prefix><instance id>/<backup id>/`: every object of one backup, and nothing else, under it. */
export function backupKeyPrefix(prefix: string, instanceId: string, backupId: string): string {
  return `${prefix}${instanceId}/${backupId}/`;
}

/** What a restore or clone must know of the backup it reads from (no secrets). */
export interface BackupSource {
  backupId: string;
  /** The instance the backup was taken of (a clone reads another instance's backup). */
  instanceId: string;
  parts: BackupPart[];
}

/** A plan's backup policy; `everyHours` null = no scheduled backups. */
export interface BackupPolicy {
  everyHours: number | null;
  keepCount: number;
  keepDays: number;
}

/** What retention needs to know of one completed backup. */
export interface RetainedBackup {
  id: string;
  kind: BackupKind;
  completedAt: Date;
  /** Set on final backups once their instance has been purged: kept until then plus the retention. */
  expiresAt: Date | null;
}

/**
 * The completed backups of one instance that retention lets go at `now`. Scheduled backups are
 * kept while they are among the newest `keepCount` scheduled ones or younger than `keepDays`;
 * the newest completed backup of an instance is never let go by this rule, whatever its kind, so
 * an instance always keeps a way back. Manual, pre-restore and final backups (a final one whose
 * delete was taken back) follow the same age rule but not the count. A backup with an `expiresAt`
 * (every backup of a purged instance) goes once that time has passed, and only then. An instance
 * with an operation running (a delete in its grace period) is left alone by the sweep.
 */
export function expiredByRetention(backups: readonly RetainedBackup[], policy: BackupPolicy, now: Date): string[] {
  const newestFirst = [...backups].sort((a, b) => b.completedAt.getTime() - a.completedAt.getTime());
  const newest = newestFirst[0]?.id;
  const keepAfter = now.getTime() - policy.keepDays * 86_400_000;
  const scheduledKept = new Set(newestFirst.filter((b) => b.kind === 'scheduled').slice(0, policy.keepCount).map((b) => b.id));
  return newestFirst
    .filter((b) => {
      if (b.expiresAt) return b.expiresAt.getTime() <= now.getTime();
      if (b.id === newest) return false;
      if (b.completedAt.getTime() > keepAfter) return false;
      return b.kind !== 'scheduled' || !scheduledKept.has(b.id);
    })
    .map((b) => b.id);
}

/**
 * Whether an instance is due for a scheduled backup at `now`: its plan's interval has passed since
 * its last scheduled backup finished, or since `since` (when it was created) if it has none yet.
 */
export function backupDue(policy: BackupPolicy, last: Date | null, since: Date, now: Date): boolean {
  if (policy.everyHours === null) return false;
  return now.getTime() - (last ?? since).getTime() >= policy.everyHours * 3_600_000;
}

export const backupSweepActor = 'backup-sweep';
