// Backups of an instance to object storage, and restores from them. A backup is three objects
// under its row's key prefix: the tenant database as `pg_dump` custom format, streamed from the
// dump straight into a multipart upload (never held in memory); the instance's configuration and
// app secret, sealed with the payload codec's keyring; and a manifest, written last. The catalogue
// row records each part's size and SHA-256 and is the trusted record: every read checks against it,
// never against the bucket's own manifest.
//
// A restore never touches the live database until the end: the dump goes into a side database
// `restore_<operation>` owned by the tenant role, then one transaction renames the live one to
// `previous_<operation>` and the side one into its place; the undo renames them back. Side
// databases carry an ownership mark (a database comment) and are made, swapped and dropped by
// name, so every step may be repeated.
import { Context } from '@temporalio/activity';
import type { Sql, TransactionSql } from 'postgres';
import packageJson from '../package.json' with { type: 'json' };
import {
  backupPartNames,
  type BackupConfiguration,
  type BackupKind,
  type BackupManifest,
  type BackupPart,
  type BackupPartName,
} from '../domain/backups';
import type { EncryptionKey } from '../domain/config';
import { databaseRoleFor, hostnameFor, managedByValue, type WaitHeartbeat } from '../domain/instance';
import { beginBackup, completeBackup, failBackup, getBackup, type BackupRow } from '../db/backups';
import { findInstance } from '../db/instances';
import { EncryptionCodec, KEY_ID_METADATA, PayloadDecryptionError } from '../temporal/encryption-codec';
import { Payload } from '../temporal/proto';
import { readAppSecret, writeAppSecret } from './app-secret';
import type { ActivityDeps } from './deps';
import { errorTypes, notOwned, permanent, postgresError } from './errors';
import { kubeObjects } from './kube-objects';
import { startTool, stdinSink, succeeded, toolConnection, toolFailure } from './pg-tools';
import {
  abortUploadsUnder,
  deleteObjectsUnder,
  digestObject,
  digestOf,
  DigestStream,
  keysUnder,
  objectUrl,
  partSizeFor,
  putObject,
  readSmallObject,
  uploadsUnder,
  uploadStream,
  type Digest,
  type ObjectStorage,
} from './object-storage';
import { assertRoleOwned, databaseOwner, quoteLiteral, tenantName } from './tenant-database';

export type BackupDeps = Pick<ActivityDeps, 'config' | 's3' | 'tenantDb' | 'db' | 'kube'>;

/**
 * pg_dump's compression: zlib level 1. On a 562 MB table of random hex text, pg_dump alone took
 * 4.4 CPU-seconds at level 1 (263 MB out), 16 at the default 6 (256 MB), 0.3 at 0 (458 MB): level
 * 1 keeps nearly all of the compression at a quarter of the CPU, where 0 would store (and bill)
 * the data uncompressed. The tenant server's pg_dump 15 has no lz4 or zstd for this format.
 */
export const dumpCompression = 1;
/** How long pg_dump waits for a table lock before giving up (the attempt is retried). */
const dumpLockWaitMs = 120_000;
const heartbeatEveryMs = 1000;

// ---------------------------------------------------------------------------------------------
// Sealing the configuration part with the payload codec's keyring

const utf8 = new TextEncoder();

async function seal(keys: EncryptionKey[], configuration: BackupConfiguration): Promise<{ bytes: Uint8Array; keyId: string | null }> {
  const plain = utf8.encode(JSON.stringify(configuration));
  if (keys.length === 0) return { bytes: plain, keyId: null };
  const [sealed] = await new EncryptionCodec(keys).encode([{ metadata: { encoding: utf8.encode('json/plain') }, data: plain }]);
  const keyId = Buffer.from(sealed!.metadata![KEY_ID_METADATA]!).toString('utf8');
  return { bytes: Payload.encode(sealed!).finish(), keyId };
}

async function unseal(keys: EncryptionKey[], bytes: Buffer, backup: BackupRow): Promise<BackupConfiguration> {
  const what = `backup ${backup.id} part ${backupPartNames.configuration}`;
  let plain: Uint8Array;
  if (backup.encryptionKeyId === null) {
    plain = bytes;
  } else {
    const keyId = backup.encryptionKeyId;
    if (!keys.some((k) => k.id === keyId)) {
      throw permanent(
        `${what} was sealed with encryption key id "${keyId}", which is not in SHIPYARD_ENCRYPTION_KEYS (known ids: ${keys.map((k) => k.id).join(', ') || 'none'})`,
        errorTypes.backupNotUsable,
      );
    }
    try {
      const payload = Payload.decode(bytes);
      const sealedWith = Buffer.from(payload.metadata?.[KEY_ID_METADATA] ?? new Uint8Array()).toString('utf8');
      if (sealedWith !== keyId) throw new Error(`it names key id "${sealedWith}", the catalogue "${keyId}"`);
      const [opened] = await new EncryptionCodec(keys).decode([payload]);
      plain = opened?.data ?? new Uint8Array();
    } catch (err) {
      const reason = err instanceof PayloadDecryptionError || err instanceof Error ? err.message : String(err);
      throw permanent(`${what} cannot be unsealed: ${reason}`, errorTypes.backupCorrupt);
    }
  }
  let configuration: Partial<BackupConfiguration>;
  try {
    configuration = JSON.parse(Buffer.from(plain).toString('utf8')) as Partial<BackupConfiguration>;
  } catch {
    throw permanent(`${what} is not JSON`, errorTypes.backupCorrupt);
  }
  for (const field of ['plan', 'version', 'hostname', 'appSecret'] as const) {
    if (typeof configuration[field] !== 'string') throw permanent(`${what} has no ${field}`, errorTypes.backupCorrupt);
  }
  return configuration as BackupConfiguration;
}

// ---------------------------------------------------------------------------------------------
// Side databases (restore_<op>, previous_<op>)

type SideKind = 'restore' | 'previous';

/** `restore_op_01j…`: an operation id is `op_` + 26 lowercase base32 characters, 37 characters in all. */
function sideName(kind: SideKind, operationId: string): string {
  const name = `${kind}_${operationId.toLowerCase()}`;
  if (!/^[a-z0-9_]+$/.test(name) || name.length > 63) {
    throw permanent(`operation id "${operationId}" cannot name a Postgres database`, errorTypes.invalidSpec);
  }
  return name;
}

const sideComment = (kind: SideKind, slug: string, operationId: string) =>
  `managed-by=${managedByValue} instance=${slug} operation=${operationId} database=${kind}`;
const liveComment = (slug: string) => `managed-by=${managedByValue} instance=${slug}`;

interface DatabaseInfo {
  owner: string;
  comment: string | null;
}

async function readDatabase(sql: Sql, name: string): Promise<DatabaseInfo | undefined> {
  const rows = await sql<DatabaseInfo[]>`
    select r.rolname as owner, shobj_description(d.oid, 'pg_database') as comment
    from pg_database d join pg_roles r on r.oid = d.datdba where d.datname = ${name}`;
  return rows[0];
}

/**
 * A side database is ours when the instance's tenant role owns it (only the tenant admin, or a
 * superuser, can have made such a database: a tenant role cannot create databases) and its comment
 * is our mark. A `restore_` database may lack the mark: CREATE DATABASE and COMMENT cannot share a
 * transaction, so an attempt stopped between the two leaves it unmarked.
 */
function assertSideOwned(info: DatabaseInfo, name: string, role: string, expected: string, unmarkedIsOurs: boolean): void {
  if (info.owner !== role) throw notOwned(`Postgres database ${name}`, `it is owned by ${info.owner}, not ${role}`);
  if (info.comment === expected || (unmarkedIsOurs && info.comment === null)) return;
  throw notOwned(`Postgres database ${name}`, `its comment is ${info.comment === null ? 'empty' : `"${info.comment}"`}, not "${expected}"`);
}

/** The tenant role of `slug`, which must exist and be Shipyard's. */
async function requireTenantRole(sql: Sql, slug: string, doing: string): Promise<string> {
  const role = databaseRoleFor(slug);
  tenantName(slug);
  if ((await assertRoleOwned(sql, slug, role)) === 'absent') {
    throw permanent(`cannot ${doing}: Postgres role ${role} does not exist (ensureTenantDatabase has not run)`, errorTypes.missingDependency);
  }
  return role;
}

/** Ends the sessions in `databases` that the admin may end (those of roles it is a member of), waiting up to 5 s for each. */
async function endSessions(sql: Sql | TransactionSql, databases: string[]): Promise<void> {
  await sql`
    select pg_terminate_backend(pid, 5000) from pg_stat_activity
    where datname in ${sql(databases)} and pid <> pg_backend_pid() and pg_has_role(usesysid, 'member')`;
}

// ---------------------------------------------------------------------------------------------

const megabytes = (bytes: number) => `${Math.round(bytes / 1e6)} MB`;

/**
 * Heartbeats `detail()` now and every second until stopped, so a cancellation reaches a long
 * stream; on cancellation `onCancel` stops the child process (which may be waiting for a lock, or
 * for its pipe to drain, where no stream error would reach it).
 */
function heartbeats(detail: () => string, onCancel?: () => void): () => void {
  const ctx = Context.current();
  if (onCancel) {
    ctx.cancellationSignal.addEventListener('abort', onCancel);
    if (ctx.cancellationSignal.aborted) onCancel();
  }
  const beat = () => ctx.heartbeat({ detail: detail() } satisfies WaitHeartbeat);
  beat();
  const timer = setInterval(beat, heartbeatEveryMs);
  return () => {
    clearInterval(timer);
    if (onCancel) ctx.cancellationSignal.removeEventListener('abort', onCancel);
  };
}

/** After a cancellation, the cancellation is the news, not the error that stopping the streams caused. */
function cancellationOr(err: unknown): unknown {
  const signal = Context.current().cancellationSignal;
  return signal.aborted && signal.reason instanceof Error ? signal.reason : err;
}

const partKey = (backup: Pick<BackupRow, 'objectPrefix'>, name: BackupPartName) => `${backup.objectPrefix}${name}`;

/**
 * Deletes every object of a backup and aborts its incomplete multipart uploads (uploads first, so
 * none completes into an object after the delete). Absent objects are no error. For the backup
 * sweep too, with a prefix found in the bucket (see listBackupPrefixes).
 */
export async function removeBackupObjects(deps: Pick<BackupDeps, 's3' | 'config'>, backup: Pick<BackupRow, 'id' | 'bucket' | 'objectPrefix'>): Promise<void> {
  // The prefix must be this backup's own, so that no slip can empty a wider part of the bucket.
  if (!backup.objectPrefix.endsWith(`/${backup.id}/`)) {
    throw permanent(`refusing to delete under ${objectUrl(backup.bucket, backup.objectPrefix)}: it is not the prefix of backup ${backup.id}`, errorTypes.invalidSpec);
  }
  await abortUploadsUnder(deps, backup.bucket, backup.objectPrefix);
  await deleteObjectsUnder(deps, backup.bucket, backup.objectPrefix);
}

export interface BackupPrefix {
  /** The backup id the prefix is named after. */
  id: string;
  instanceId: string;
  bucket: string;
  objectPrefix: string;
}

/**
 * The backups present in the bucket under SHIPYARD_BACKUP_PREFIX, read from the keys of their
 * objects and incomplete multipart uploads (`<prefix><instance id>/<backup id>/…`), each once. The
 * backup sweep compares them with the catalogue to remove objects no row names.
 */
export async function listBackupPrefixes(deps: Pick<BackupDeps, 's3' | 'config'>): Promise<BackupPrefix[]> {
  const { backupBucket: bucket, backupPrefix: prefix } = deps.config;
  const found = new Map<string, BackupPrefix>();
  const note = (key: string) => {
    const match = /^([^/]+)\/([^/]+)\/./.exec(key.slice(prefix.length));
    if (!key.startsWith(prefix) || !match) return;
    const [, instanceId, id] = match as unknown as [string, string, string];
    found.set(`${instanceId}/${id}`, { id, instanceId, bucket, objectPrefix: `${prefix}${instanceId}/${id}/` });
  };
  for await (const keys of keysUnder(deps, bucket, prefix)) keys.forEach(note);
  for await (const uploads of uploadsUnder(deps, bucket, prefix)) uploads.forEach((u) => note(u.key));
  return [...found.values()];
}

export function createBackupActivities(deps: BackupDeps) {
  const { config, db, tenantDb: sql } = deps;
  const storage: ObjectStorage = deps;
  const objects = kubeObjects(deps.kube);

  async function backupRow(backupId: string): Promise<BackupRow> {
    const row = await getBackup(db, backupId);
    if (!row) throw permanent(`backup ${backupId} has no catalogue row`, errorTypes.catalogueRowMissing);
    return row;
  }

  /** A backup that can be read from: completed. */
  async function usableBackup(backupId: string, doing: string): Promise<BackupRow> {
    const row = await backupRow(backupId);
    if (row.status !== 'completed') {
      throw permanent(`cannot ${doing}: backup ${backupId} is ${row.status}, not completed`, errorTypes.backupNotUsable);
    }
    return row;
  }

  function partOf(row: BackupRow, name: BackupPartName): BackupPart {
    const part = row.parts.find((p) => p.name === name);
    if (!part) throw permanent(`backup ${row.id} part ${name}: the catalogue records no such part`, errorTypes.backupCorrupt);
    return part;
  }

  /** BackupCorrupt unless `actual` is what the catalogue recorded for `part`; `actual` undefined = no object. */
  function checkPart(row: BackupRow, part: BackupPart, actual: Digest | undefined): string | undefined {
    const what = `backup ${row.id} part ${part.name}`;
    if (!actual) return `${what}: object ${objectUrl(row.bucket, partKey(row, part.name))} is missing`;
    if (actual.sha256 === part.sha256 && actual.sizeBytes === part.sizeBytes) return undefined;
    const sizes = actual.sizeBytes === part.sizeBytes ? '' : ` (${actual.sizeBytes} bytes, expected ${part.sizeBytes})`;
    return `${what}: sha256 ${actual.sha256} expected ${part.sha256}${sizes}`;
  }

  /** pg_dump of `database` as `role`, streamed through a digest into the backup's database part. */
  async function dumpDatabase(row: BackupRow, database: string, role: string, databaseBytes: number): Promise<Digest> {
    const { dbname, env } = toolConnection(config.tenantDatabaseUrl, database);
    const tool = startTool(
      config,
      'pg_dump',
      ['--format=custom', `--compress=${dumpCompression}`, '--no-owner', '--no-privileges', `--lock-wait-timeout=${dumpLockWaitMs}`, `--role=${role}`, `--dbname=${dbname}`],
      env,
      'ignore',
    );
    // The upload completes only once pg_dump has exited well: a dump cut short fails the upload.
    const digest = new DigestStream(async () => {
      const exit = await tool.exited;
      if (!succeeded(exit)) throw toolFailure(tool, exit, `dump ${database}`, config);
    });
    tool.child.stdout!.pipe(digest);
    const stop = heartbeats(() => `dumping ${database}: ${megabytes(digest.bytes)} uploaded`, tool.kill);
    try {
      await uploadStream(storage, row.bucket, partKey(row, backupPartNames.database), digest, {
        signal: Context.current().cancellationSignal,
        // A dump is rarely larger than the database it is taken of.
        partSize: partSizeFor(databaseBytes),
      });
      return digest.digest();
    } catch (err) {
      throw cancellationOr(err);
    } finally {
      stop();
      tool.kill();
    }
  }

  /**
   * In one transaction, with the sessions of both ended first: the live database (when there is
   * one) is set aside under the side name `setAside`, and the side database `incoming` becomes the
   * live one, each with the ownership comment of its new name.
   */
  async function putInPlace(slug: string, operationId: string, move: { incoming: SideKind; setAside: SideKind | undefined }): Promise<void> {
    const live = tenantName(slug);
    const incoming = sideName(move.incoming, operationId);
    await sql.begin(async (tx) => {
      await endSessions(tx, [live, incoming]);
      if (move.setAside) {
        const aside = sideName(move.setAside, operationId);
        await tx`alter database ${tx(live)} rename to ${tx(aside)}`;
        await tx.unsafe(`comment on database "${aside}" is ${quoteLiteral(sideComment(move.setAside, slug, operationId))}`);
      }
      await tx`alter database ${tx(incoming)} rename to ${tx(live)}`;
      await tx.unsafe(`comment on database "${live}" is ${quoteLiteral(liveComment(slug))}`);
    });
  }

  return {
    /** The backup row `operationId` takes of `kind` (made if absent, so a retry finds the same one). */
    async beginBackup(req: { instanceId: string; operationId: string; kind: BackupKind }): Promise<{ backupId: string }> {
      const found = await findInstance(db, req.instanceId);
      if (!found) throw permanent(`instance ${req.instanceId} has no catalogue row`, errorTypes.catalogueRowMissing);
      const row = await beginBackup(db, {
        instanceId: req.instanceId,
        operationId: req.operationId,
        kind: req.kind,
        bucket: config.backupBucket,
        prefix: config.backupPrefix,
        appVersion: found.instance.version,
        plan: found.instance.plan,
      });
      return { backupId: row.id };
    },

    /**
     * Dumps the tenant database into the backup's database part, then writes the sealed
     * configuration and the manifest, then completes the row. A completed backup returns at once;
     * otherwise the uploads a killed attempt left are aborted first and every part is written anew.
     */
    async takeBackup(backupId: string): Promise<{ sizeBytes: number }> {
      const row = await backupRow(backupId);
      if (row.status === 'completed') return { sizeBytes: row.sizeBytes };
      if (row.status !== 'running') throw permanent(`backup ${backupId} is ${row.status}: it cannot be taken again`, errorTypes.backupNotUsable);
      const instance = (await findInstance(db, row.instanceId))?.instance;
      if (!instance) throw permanent(`instance ${row.instanceId} of backup ${backupId} has no catalogue row`, errorTypes.catalogueRowMissing);
      const { slug } = instance;
      const database = tenantName(slug);
      const role = databaseRoleFor(slug);

      let step = `read Postgres role ${role}`;
      let databaseBytes = 0;
      try {
        const roleState = await assertRoleOwned(sql, slug, role);
        step = `read Postgres database ${database}`;
        const owner = await databaseOwner(sql, database);
        if (roleState === 'absent' || owner === undefined) {
          throw permanent(`cannot back up ${slug}: Postgres ${roleState === 'absent' ? `role ${role}` : `database ${database}`} does not exist`, errorTypes.backupSourceMissing);
        }
        if (owner !== role) throw notOwned(`Postgres database ${database}`, `it is owned by ${owner}, not ${role}`);
        const [size] = await sql<{ bytes: string }[]>`select pg_database_size(${database})::text as bytes`;
        databaseBytes = Number(size!.bytes);
      } catch (err) {
        throw postgresError(step, err);
      }

      await abortUploadsUnder(storage, row.bucket, row.objectPrefix);
      const dumped = await dumpDatabase(row, database, role, databaseBytes);

      const appSecret = await readAppSecret(objects, slug);
      if (appSecret === undefined) {
        throw permanent(`cannot back up the configuration of ${slug}: its Secret has no APP_SECRET (or does not exist)`, errorTypes.backupSourceMissing);
      }
      const { bytes, keyId } = await seal(config.encryptionKeys, {
        plan: row.plan,
        version: row.appVersion,
        hostname: hostnameFor(slug, config.baseDomain),
        appSecret,
      });
      const sealed = await putObject(storage, row.bucket, partKey(row, backupPartNames.configuration), bytes, 'application/octet-stream');
      const parts: BackupPart[] = [
        { name: backupPartNames.database, ...dumped },
        { name: backupPartNames.configuration, ...sealed },
      ];

      let postgresVersion: string;
      try {
        const [version] = await sql<{ server_version: string }[]>`show server_version`;
        postgresVersion = version!.server_version;
      } catch (err) {
        throw postgresError('read the tenant server version', err);
      }
      const manifest: BackupManifest = {
        backupId,
        instanceId: row.instanceId,
        slug,
        kind: row.kind,
        createdAt: row.startedAt.toISOString(),
        postgresServerVersion: postgresVersion,
        shipyardVersion: packageJson.version,
        encryptionKeyId: keyId,
        parts,
      };
      await putObject(storage, row.bucket, partKey(row, backupPartNames.manifest), utf8.encode(`${JSON.stringify(manifest, null, 2)}\n`), 'application/json');

      const done = await completeBackup(db, backupId, { parts, encryptionKeyId: keyId, postgresVersion });
      if (done?.status !== 'completed') {
        // Discarded while this attempt ran (a cancel whose undo did not wait): what it wrote goes too.
        await removeBackupObjects(deps, row);
        throw permanent(`backup ${backupId} became ${done?.status ?? 'absent'} while it was being taken`, errorTypes.backupNotUsable);
      }
      return { sizeBytes: done.sizeBytes };
    },

    /** Undoes a backup that did not finish: its objects and uploads removed, its row failed with `reason`. A completed one stays. */
    async discardBackup(backupId: string, reason: string): Promise<void> {
      const row = await backupRow(backupId);
      if (row.status === 'completed' || row.status === 'expired') return;
      await removeBackupObjects(deps, row);
      await failBackup(db, backupId, reason);
    },

    /** Reads every recorded part and checks its size and SHA-256 against the catalogue. */
    async verifyBackup(backupId: string): Promise<void> {
      const row = await usableBackup(backupId, 'verify it');
      let read = 0;
      let reading = '';
      const stop = heartbeats(() => `verifying backup ${backupId}: ${reading}, ${megabytes(read)} read`);
      try {
        for (const part of row.parts) {
          reading = part.name;
          const before = read;
          const actual = await digestObject(storage, row.bucket, partKey(row, part.name), {
            signal: Context.current().cancellationSignal,
            onBytes: (bytes) => (read = before + bytes),
          });
          const problem = checkPart(row, part, actual);
          if (problem) throw permanent(problem, errorTypes.backupCorrupt);
        }
      } catch (err) {
        throw cancellationOr(err);
      } finally {
        stop();
      }
    },

    /**
     * Restores the backup's dump, as the tenant role of `slug` (the backup may be another
     * instance's: a clone), into a new database `restore_<operation>` beside the live one. One left
     * by an earlier attempt is dropped first. The dump's bytes are checked against the catalogue as
     * they stream by; on a mismatch the side database is dropped and the restore fails for good.
     */
    async restoreIntoSideDatabase(req: { backupId: string; slug: string; operationId: string }): Promise<void> {
      const { backupId, slug, operationId } = req;
      const row = await usableBackup(backupId, `restore it into ${slug}`);
      const part = partOf(row, backupPartNames.database);
      const side = sideName('restore', operationId);
      let step = `create Postgres database ${side}`;
      let role: string;
      try {
        role = await requireTenantRole(sql, slug, step);
        const existing = await readDatabase(sql, side);
        if (existing) {
          // A half-restored database is not trusted: start again from an empty one.
          assertSideOwned(existing, side, role, sideComment('restore', slug, operationId), true);
          step = `drop Postgres database ${side} left by an earlier attempt`;
          await sql`drop database if exists ${sql(side)} with (force)`;
        }
        step = `create Postgres database ${side}`;
        await sql`grant ${sql(role)} to current_user`;
        await sql`create database ${sql(side)} owner ${sql(role)}`;
        await sql.unsafe(`comment on database "${side}" is ${quoteLiteral(sideComment('restore', slug, operationId))}`);
        step = `restrict connections to database ${side}`;
        await sql`revoke connect, temporary on database ${sql(side)} from public`;
        await sql`grant connect, temporary on database ${sql(side)} to ${sql(role)}`;
      } catch (err) {
        throw postgresError(step, err);
      }
      const dropSide = async () => {
        try {
          await sql`drop database if exists ${sql(side)} with (force)`;
        } catch (err) {
          throw postgresError(`drop Postgres database ${side}`, err);
        }
      };

      const { dbname, env } = toolConnection(config.tenantDatabaseUrl, side);
      const tool = startTool(config, 'pg_restore', ['--no-owner', '--no-privileges', `--role=${role}`, '--exit-on-error', `--dbname=${dbname}`], env, 'pipe');
      let restored = 0;
      const stop = heartbeats(() => `restoring backup ${backupId} into ${side}: ${megabytes(restored)} of ${megabytes(part.sizeBytes)} restored`, tool.kill);
      let actual: Digest | undefined;
      try {
        actual = await digestObject(storage, row.bucket, partKey(row, part.name), {
          signal: Context.current().cancellationSignal,
          onBytes: (bytes) => (restored = bytes),
          sink: stdinSink(tool),
        });
        tool.child.stdin!.end();
      } catch (err) {
        tool.kill();
        throw cancellationOr(err);
      } finally {
        stop();
      }
      const exit = await tool.exited;
      const problem = checkPart(row, part, actual);
      if (problem) {
        await dropSide();
        throw permanent(problem, errorTypes.backupCorrupt);
      }
      if (!succeeded(exit)) throw toolFailure(tool, exit, `restore backup ${backupId} into ${side}`, config);
    },

    /**
     * In one transaction: the live database becomes `previous_<operation>` and the restored one
     * takes its name (their sessions ended first). Done already (no `restore_`, a `previous_`) = done.
     */
    async swapInRestoredDatabase(req: { slug: string; operationId: string }): Promise<void> {
      const { slug, operationId } = req;
      const live = tenantName(slug);
      const restored = sideName('restore', operationId);
      const previous = sideName('previous', operationId);
      let step = `swap Postgres database ${restored} in for ${live}`;
      try {
        const role = await requireTenantRole(sql, slug, step);
        const [liveDb, restoredDb, previousDb] = await Promise.all([live, restored, previous].map((name) => readDatabase(sql, name)));
        if (!restoredDb && previousDb) return;
        if (!restoredDb) throw permanent(`cannot ${step}: ${restored} does not exist (restoreIntoSideDatabase has not run)`, errorTypes.missingDependency);
        if (previousDb) throw permanent(`cannot ${step}: both ${restored} and ${previous} exist`, errorTypes.invalidSpec);
        assertSideOwned(restoredDb, restored, role, sideComment('restore', slug, operationId), false);
        if (liveDb && liveDb.owner !== role) throw notOwned(`Postgres database ${live}`, `it is owned by ${liveDb.owner}, not ${role}`);
        step = `rename Postgres databases ${live} to ${previous} and ${restored} to ${live}`;
        await putInPlace(slug, operationId, { incoming: 'restore', setAside: liveDb ? 'previous' : undefined });
      } catch (err) {
        throw postgresError(step, err);
      }
    },

    /** The undo of the swap: the database the swap put aside comes back (the restored one goes back to `restore_`). Nothing put aside = nothing to do. */
    async swapBackPreviousDatabase(req: { slug: string; operationId: string }): Promise<void> {
      const { slug, operationId } = req;
      const live = tenantName(slug);
      const restored = sideName('restore', operationId);
      const previous = sideName('previous', operationId);
      let step = `swap Postgres database ${previous} back in for ${live}`;
      try {
        const previousDb = await readDatabase(sql, previous);
        if (!previousDb) return;
        const role = await requireTenantRole(sql, slug, step);
        assertSideOwned(previousDb, previous, role, sideComment('previous', slug, operationId), false);
        const [liveDb, restoredDb] = await Promise.all([readDatabase(sql, live), readDatabase(sql, restored)]);
        if (liveDb && restoredDb) throw permanent(`cannot ${step}: ${restored} exists already`, errorTypes.invalidSpec);
        if (liveDb && liveDb.owner !== role) throw notOwned(`Postgres database ${live}`, `it is owned by ${liveDb.owner}, not ${role}`);
        step = `rename Postgres databases ${live} to ${restored} and ${previous} to ${live}`;
        await putInPlace(slug, operationId, { incoming: 'previous', setAside: liveDb ? 'restore' : undefined });
      } catch (err) {
        throw postgresError(step, err);
      }
    },

    /** Drops `restore_<operation>` and `previous_<operation>` when they exist and are ours (closing their sessions). */
    async dropSideDatabases(req: { slug: string; operationId: string }): Promise<void> {
      const { slug, operationId } = req;
      const role = databaseRoleFor(slug);
      for (const kind of ['restore', 'previous'] as const) {
        const name = sideName(kind, operationId);
        try {
          const info = await readDatabase(sql, name);
          if (!info) continue;
          assertSideOwned(info, name, role, sideComment(kind, slug, operationId), kind === 'restore');
          await sql`drop database if exists ${sql(name)} with (force)`;
        } catch (err) {
          throw postgresError(`drop Postgres database ${name}`, err);
        }
      }
    },

    /**
     * Puts the backup's app secret into the Secret of `slug`, keeping its database password and
     * URL; returns the version the backup was taken at (never the secret).
     */
    async restoreConfiguration(req: { backupId: string; slug: string }): Promise<{ version: string }> {
      const row = await usableBackup(req.backupId, `restore its configuration into ${req.slug}`);
      const part = partOf(row, backupPartNames.configuration);
      const bytes = await readSmallObject(storage, row.bucket, partKey(row, part.name));
      const problem = checkPart(row, part, bytes && digestOf(bytes));
      if (problem) throw permanent(problem, errorTypes.backupCorrupt);
      const configuration = await unseal(config.encryptionKeys, bytes!, row);
      await writeAppSecret({ config, tenantDb: sql, objects }, req.slug, configuration.appSecret);
      return { version: configuration.version };
    },

    /** Deletes every object of the backup and aborts its uploads; none there = done. The row is left as it is. */
    async deleteBackupObjects(backupId: string): Promise<void> {
      await removeBackupObjects(deps, await backupRow(backupId));
    },
  };
}
