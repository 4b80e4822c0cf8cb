// The backup sweep's I/O: which instances are due, one scheduled backup started through the same
// path an API call takes (lifecycle/operations.ts, like a rollout's upgrades) and waited on,
// retention, and the repair of rows and objects that disagree. Every activity here may run again
// after a worker dies: a backup finds the operation its sweep started, retention and repair look
// at the catalogue and the bucket afresh.
import { Context } from '@temporalio/activity';
import {
  backupsByIds,
  backupsLeftRunning,
  catalogueNow,
  completedBackupsIn,
  expireBackup,
  failBackup,
  instanceIdsOnPlans,
  instancesDueForBackup,
  retentionCandidates,
} from '../db/backups';
import { runningOperation } from '../db/instances';
import { backupPartNames, backupSweepActor, expiredByRetention } from '../domain/backups';
import { removeBackupObjects } from './backups';
import type { ActivityDeps } from './deps';
import { keysUnder, uploadsUnder, type ObjectStorage } from './object-storage';
import { operationForSweep, type SweepOutcome } from './sweep-operations';

/** Instances (retention) or rows (repair) read at once. */
const PAGE = 200;
/** Objects no row names are left alone this long: nothing of Shipyard's writes one without its row, but a clock may be off. */
export const ORPHAN_AGE_MS = 3_600_000;
/** The reason a backup left `running` by an operation that has ended is failed with. */
export const LEFT_RUNNING = 'the operation that took it ended without finishing it';

export type SweepBackupOutcome = SweepOutcome;

/** Which instances a sweep covers: the whole fleet, or those on some plans (a test's own). */
export interface SweepScope {
  plans?: string[];
}

export function createBackupSweepActivities(deps: ActivityDeps) {
  const { db, config } = deps;
  const storage: ObjectStorage = deps;

  return {
    /** The catalogue's now, when a sweep begins: the operations it starts are those started since (see backupForSweep). */
    async backupSweepBegins(): Promise<string> {
      return (await catalogueNow(db)).toISOString();
    },

    /** A page of the instances due for a scheduled backup, in id order after `after`. */
    async instancesDueForBackup(page: { after?: string; limit: number; plans?: string[] }): Promise<{ id: string; slug: string }[]> {
      return instancesDueForBackup(db, page);
    },

    /**
     * Backs one instance up for the sweep that began at `since` and waits for the operation's end,
     * heartbeating. Safe to retry (a worker killed mid-wait): the backup operation this sweep
     * started on the instance (actor `backup-sweep`, started since `since`) is waited on again,
     * never started twice; one whose run never started is settled by the reconcile, which leaves
     * the instance as it was, and then requested again. An instance no longer due is busy (another
     * operation started on it since the page was read) or refused (another sweep backed it up, its
     * status or plan changed).
     */
    async backupForSweep(sweepWorkflowId: string, slug: string, since: string): Promise<SweepBackupOutcome> {
      return operationForSweep(deps, {
        slug,
        kind: 'backup',
        actor: backupSweepActor,
        since: new Date(since),
        request: { backupKind: 'scheduled' },
        noun: 'backup',
        sweepWorkflowId,
        // Another sweep may have backed it up since this one read the page.
        stillDue: async (instanceId) => (await instancesDueForBackup(db, { instanceId, limit: 1 })).length > 0,
      });
    },

    /**
     * Retention: for each instance with completed backups (none of its operations running), the
     * backups its plan's policy lets go (domain/backups.ts expiredByRetention; a final backup at
     * the expiresAt its purge set) lose their objects, then their rows are marked expired. Resumes
     * from its heartbeat after a retry. Returns how many backups it expired.
     */
    async expireBackups(scope: SweepScope = {}): Promise<number> {
      const ctx = Context.current();
      const resumed = ctx.info.heartbeatDetails as { after?: string; expired?: number } | undefined;
      let after = resumed?.after;
      let expired = resumed?.expired ?? 0;
      for (;;) {
        const candidates = await retentionCandidates(db, { ...(after ? { after } : {}), limit: PAGE, ...(scope.plans ? { plans: scope.plans } : {}) });
        if (candidates.length === 0) return expired;
        const now = await catalogueNow(db);
        for (const { instanceId, policy, backups } of candidates) {
          const ids = new Set(
            expiredByRetention(
              backups.map((b) => ({ id: b.id, kind: b.kind, completedAt: b.completedAt!, expiresAt: b.expiresAt })),
              policy,
              now,
            ),
          );
          if (ids.size === 0) continue;
          // An operation started since the page was read (a restore reading one of them): next sweep.
          if (await runningOperation(db, instanceId)) continue;
          for (const row of backups.filter((b) => ids.has(b.id))) {
            ctx.heartbeat({ after, expired, detail: `expiring backup ${row.id} of ${instanceId}` });
            await removeBackupObjects(deps, row);
            await expireBackup(db, row.id);
            expired += 1;
          }
        }
        after = candidates.at(-1)!.instanceId;
        ctx.heartbeat({ after, expired });
      }
    },

    /**
     * Puts rows and objects back in agreement; returns how many backups it repaired:
     * - a `running` backup whose operation has ended (nothing will finish it): its objects and
     *   uploads removed, the row `failed`;
     * - a `completed` backup whose manifest or database dump is not in the bucket: what is left of
     *   it removed, the row `expired`, the reason recorded;
     * - objects (or incomplete uploads) of a backup id with no row, older than an hour, or of a
     *   `failed` or `expired` row: removed.
     * The bucket is listed once under SHIPYARD_BACKUP_PREFIX (under each instance's prefix for a
     * scoped sweep), not asked object by object: a fleet's backups cost a few list requests, not
     * two per backup. A backup found missing in that listing is looked at again on its own before
     * its row is expired, so one that completed while the listing ran is not taken for lost.
     */
    async repairBackups(scope: SweepScope = {}): Promise<number> {
      const ctx = Context.current();
      const beat = (detail: string) => ctx.heartbeat({ detail });
      let repaired = 0;

      for (const row of await backupsLeftRunning(db, 1_000, scope.plans)) {
        beat(`failing backup ${row.id}: ${LEFT_RUNNING}`);
        await removeBackupObjects(deps, row);
        if (await failBackup(db, row.id, LEFT_RUNNING)) repaired += 1;
      }

      const { backupBucket: bucket, backupPrefix: prefix } = config;
      const instanceIds = scope.plans ? await instanceIdsOnPlans(db, scope.plans) : undefined;
      const listedAt = await catalogueNow(db);
      const listed = new Map<string, ListedBackup>();
      for (const under of instanceIds ? instanceIds.map((id) => `${prefix}${id}/`) : [prefix]) {
        beat(`listing ${under}`);
        await listBackups(storage, bucket, prefix, under, listed);
      }

      // Objects of no row (old enough), or of a row that is failed or expired.
      const ids = [...listed.keys()];
      for (let i = 0; i < ids.length; i += PAGE) {
        const rows = new Map((await backupsByIds(db, ids.slice(i, i + PAGE))).map((r) => [r.id, r]));
        for (const id of ids.slice(i, i + PAGE)) {
          const found = listed.get(id)!;
          const row = rows.get(id);
          const ownRow = row && row.bucket === bucket && row.objectPrefix === found.objectPrefix;
          if (ownRow && (row.status === 'running' || row.status === 'completed')) continue;
          if (!ownRow && listedAt.getTime() - idTime(id) < ORPHAN_AGE_MS) continue;
          beat(`removing the objects of backup ${id} (${row ? `its row is ${ownRow ? row.status : 'elsewhere'}` : 'no row'})`);
          await removeBackupObjects(deps, { id, bucket, objectPrefix: found.objectPrefix });
          repaired += 1;
        }
      }

      // Completed rows (completed before the listing began) whose manifest or dump is not there.
      let after: string | undefined;
      for (;;) {
        const rows = await completedBackupsIn(db, {
          bucket,
          prefix,
          before: listedAt,
          limit: PAGE,
          ...(after ? { after } : {}),
          ...(instanceIds ? { instanceIds } : {}),
        });
        if (rows.length === 0) break;
        for (const row of rows) {
          if (missingParts(listed.get(row.id)?.parts).length === 0) continue;
          // Looked at again on its own: the listing is pages taken over time.
          const again = new Map<string, ListedBackup>();
          await listBackups(storage, bucket, prefix, row.objectPrefix, again);
          const missing = missingParts(again.get(row.id)?.parts);
          if (missing.length === 0) continue;
          beat(`expiring backup ${row.id}: ${missing.join(', ')} missing`);
          await removeBackupObjects(deps, row);
          await expireBackup(db, row.id, `found by the backup sweep with ${missing.join(' and ')} missing from the bucket`);
          repaired += 1;
        }
        after = rows.at(-1)!.id;
      }
      return repaired;
    },
  };
}

interface ListedBackup {
  objectPrefix: string;
  /** The part names that have an object (not counting incomplete uploads). */
  parts: Set<string>;
}

/** What is under `under` (within `prefix`), by backup id: `<prefix><instance id>/<backup id>/<part>`. Keys of another shape are not Shipyard's and are skipped. */
async function listBackups(storage: ObjectStorage, bucket: string, prefix: string, under: string, into: Map<string, ListedBackup>): Promise<void> {
  const note = (key: string, uploading: boolean) => {
    if (!key.startsWith(prefix)) return;
    const match = /^(ins_[0-9a-hjkmnp-tv-z]{26})\/(bak_[0-9a-hjkmnp-tv-z]{26})\/(.+)$/.exec(key.slice(prefix.length));
    if (!match) return;
    const [, instanceId, id, part] = match as unknown as [string, string, string, string];
    const entry = into.get(id) ?? { objectPrefix: `${prefix}${instanceId}/${id}/`, parts: new Set<string>() };
    if (!uploading) entry.parts.add(part);
    into.set(id, entry);
  };
  for await (const keys of keysUnder(storage, bucket, under)) for (const key of keys) note(key, false);
  for await (const uploads of uploadsUnder(storage, bucket, under)) for (const { key } of uploads) note(key, true);
}

/** The parts without which a backup cannot be restored, missing from `present`. */
function missingParts(present: Set<string> | undefined): string[] {
  return [backupPartNames.manifest, backupPartNames.database].filter((name) => !present?.has(name));
}

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** When an id was made (db/ids.ts: its first 10 characters after the prefix are milliseconds, base32). */
export function idTime(id: string): number {
  const head = id.slice(id.indexOf('_') + 1, id.indexOf('_') + 11);
  let ms = 0;
  for (const c of head) ms = ms * 32 + ALPHABET.indexOf(c);
  return ms;
}
