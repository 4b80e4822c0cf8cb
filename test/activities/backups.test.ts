import { Readable } from 'node:stream';
// Backups and restores against the testbed's real parts: Postgres with its own pg_dump and
// pg_restore, the S3 server, Kubernetes for the instance's Secret. One tenant (database, namespace,
// Secret) serves every case; each case takes backups of its own (an operation row each).
import { createHash, randomBytes } from 'node:crypto';
import {
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { CoreV1Api, type V1Secret } from '@kubernetes/client-node';
import { asyncLocalStorage, Context, type Info } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure, noopMetricMeter } from '@temporalio/common';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupActivities, listBackupPrefixes } from '../../activities/backups';
import { createKubernetesActivities } from '../../activities/kubernetes';
import { uploadPartSize, uploadStream } from '../../activities/object-storage';
import { createTenantDatabaseActivities } from '../../activities/tenant-database';
import { getBackup } from '../../db/backups';
import { connectCatalogue } from '../../db/client';
import { newId } from '../../db/ids';
import { migrateCatalogue } from '../../db/migrate';
import { operations } from '../../db/schema';
import type { BackupKind, BackupManifest } from '../../domain/backups';
import { newCatalogueInstance } from '../support/catalogue-rows';
import { inActivity } from './activity-context';
import { failure, testbedDeps, testPlan } from './testbed-deps';

const deps = testbedDeps();
const catalogue = connectCatalogue(deps.config.databaseUrl, { max: 2 });
const full = { ...deps, db: catalogue };
const backups = createBackupActivities(full);
const k8s = createKubernetesActivities(full, { pollIntervalMs: 250 });
const tenant = createTenantDatabaseActivities(deps);
const core = deps.kube.makeApiClient(CoreV1Api);
const sql = deps.tenantDb;
const { backupBucket: bucket } = deps.config;

// Every activity runs inside an activity Context, as on a worker.
const run = <T>(fn: () => Promise<T>) => inActivity(fn).then((r) => r.result);

let slug: string;
let instanceId: string;
let database: string;
let appDb: postgres.Sql;
const taken: string[] = [];
/** Restores' side databases to drop at the end, whatever a failed case left. */
const sides: { slug: () => string; operationId: string }[] = [];
const emptySlugs: string[] = [];

const rowsAtBackup = [
  { id: 1, name: 'anchor', note: 'kept' },
  { id: 2, name: 'buoy', note: 'kept' },
  { id: 3, name: 'capstan', note: 'kept' },
];

async function secretValues(): Promise<Record<string, string>> {
  const secret = (await core.readNamespacedSecret({ name: 'app-env', namespace: `tenant-${slug}` })) as V1Secret;
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
}

/** A backup of the shared tenant under an operation of its own, taken to completion unless told. */
async function backup(kind: BackupKind = 'manual', options: { take?: boolean; activities?: typeof backups } = {}): Promise<string> {
  const operationId = newId('op');
  await catalogue.insert(operations).values({ id: operationId, instanceId, kind: 'backup', status: 'succeeded', workflowId: `test:${operationId}`, actor: 'test' });
  const { backupId } = await run(() => backups.beginBackup({ instanceId, operationId, kind }));
  taken.push(backupId);
  if (options.take !== false) await run(() => (options.activities ?? backups).takeBackup(backupId));
  return backupId;
}

/** Runs `fn` as an activity that is cancelled at its first heartbeat (as a worker delivers a cancel). */
async function cancelledAtFirstHeartbeat<T>(fn: () => Promise<T>): Promise<unknown> {
  const abort = new AbortController();
  const cancelled = new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(abort.signal.reason)));
  cancelled.catch(() => undefined);
  const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const info = { attempt: 1, activityId: 'test', activityType: 'test', heartbeatDetails: undefined, taskQueue: 'test' } as unknown as Info;
  const heartbeat = () => abort.abort(new CancelledFailure('cancelled by the test'));
  const context = new Context(info, cancelled, abort.signal, heartbeat, undefined, quiet, noopMetricMeter, {});
  return asyncLocalStorage.run(context, fn).then(
    () => undefined,
    (err: unknown) => err,
  );
}

async function row(backupId: string) {
  const found = await getBackup(catalogue, backupId);
  if (!found) throw new Error(`no row for ${backupId}`);
  return found;
}

async function objectBytes(key: string): Promise<Buffer> {
  const answer = await deps.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await answer.Body!.transformToByteArray());
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function keysUnder(prefix: string): Promise<string[]> {
  const listed = await deps.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key!).sort();
}

async function uploadsUnder(prefix: string): Promise<number> {
  const listed = await deps.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return listed.Uploads?.length ?? 0;
}

/** What the app sees: the shipment rows, read as the tenant role through its own DATABASE_URL. */
async function liveRows() {
  return appDb<{ id: number; name: string; note: string }[]>`select id, name, note from shipments order by id`;
}

async function databasesOf(operationId: string): Promise<string[]> {
  const names = [`restore_${operationId}`, `previous_${operationId}`];
  const rows = await sql<{ datname: string }[]>`select datname from pg_database where datname in ${sql(names)} order by datname`;
  return rows.map((r) => r.datname);
}

/** A multipart upload left open under `prefix`, as by a worker killed mid-dump. */
async function leaveUploadOpen(prefix: string): Promise<void> {
  const { UploadId } = await deps.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${prefix}database.dump` }));
  await deps.s3.send(new UploadPartCommand({ Bucket: bucket, Key: `${prefix}database.dump`, UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 7) }));
}

beforeAll(async () => {
  await migrateCatalogue(deps.config.databaseUrl);
  ({ slug, instanceId } = await newCatalogueInstance(catalogue, 'bak'));
  database = `tenant_${slug.replaceAll('-', '_')}`;
  await tenant.ensureTenantDatabase(slug, { connectionLimit: testPlan.dbConnections });
  await run(() => k8s.applyNamespace(slug, testPlan));
  await run(() => k8s.writeAppSecret(slug));
  appDb = postgres((await secretValues()).DATABASE_URL!, { max: 1, onnotice: () => undefined });
  // Made by the app, as the tenant role: the objects a restore must give back to that role.
  await appDb`create table shipments (id int primary key, name text not null, note text not null)`;
  await appDb`insert into shipments ${appDb(rowsAtBackup)}`;
});

afterAll(async () => {
  await appDb?.end({ timeout: 5 });
  for (const side of sides) await backups.dropSideDatabases({ slug: side.slug(), operationId: side.operationId });
  for (const backupId of taken) await backups.deleteBackupObjects(backupId);
  if (slug) {
    await run(() => k8s.deleteNamespace(slug));
    await tenant.dropTenantDatabase(slug);
  }
  for (const s of emptySlugs) await tenant.dropTenantDatabase(s);
  await sql.end();
  await catalogue.$client.end();
  deps.s3.destroy();
});

describe('backup', () => {
  let backupId: string;

  it('dumps the database, seals the configuration and writes a manifest, then completes the row with what the objects hold', async () => {
    const operationId = newId('op');
    await catalogue.insert(operations).values({ id: operationId, instanceId, kind: 'backup', status: 'succeeded', workflowId: `test:${operationId}`, actor: 'test' });
    ({ backupId } = await run(() => backups.beginBackup({ instanceId, operationId, kind: 'manual' })));
    taken.push(backupId);
    // begin is idempotent: the same operation and kind find the same row.
    expect(await run(() => backups.beginBackup({ instanceId, operationId, kind: 'manual' }))).toEqual({ backupId });
    const { result, heartbeats } = await inActivity(() => backups.takeBackup(backupId));

    const done = await row(backupId);
    expect(done).toMatchObject({ status: 'completed', plan: 'starter', appVersion: '1.0.0', encryptionKeyId: deps.config.encryptionKeys[0]!.id });
    expect(done.postgresVersion).toMatch(/^\d+\.\d+/);
    expect(result).toEqual({ sizeBytes: done.sizeBytes });
    expect(done.parts.map((p) => p.name)).toEqual(['database.dump', 'configuration.sealed']);
    for (const part of done.parts) {
      const bytes = await objectBytes(`${done.objectPrefix}${part.name}`);
      expect({ sizeBytes: bytes.length, sha256: sha256(bytes) }, part.name).toEqual({ sizeBytes: part.sizeBytes, sha256: part.sha256 });
    }
    expect(done.sizeBytes).toBe(done.parts[0]!.sizeBytes + done.parts[1]!.sizeBytes);
    // pg_dump's custom format; the configuration part holds no secret in the clear.
    expect((await objectBytes(`${done.objectPrefix}database.dump`)).subarray(0, 5).toString()).toBe('PGDMP');
    const { APP_SECRET } = await secretValues();
    expect((await objectBytes(`${done.objectPrefix}configuration.sealed`)).toString('latin1')).not.toContain(APP_SECRET);

    const manifest = JSON.parse((await objectBytes(`${done.objectPrefix}manifest.json`)).toString()) as BackupManifest;
    expect(manifest).toMatchObject({ backupId, instanceId, slug, kind: 'manual', encryptionKeyId: done.encryptionKeyId, parts: done.parts });
    expect(manifest.postgresServerVersion).toBe(done.postgresVersion);
    expect(heartbeats[0]).toEqual({ detail: `dumping ${database}: 0 MB uploaded` });
  });

  it('verifies: every part read back matches the catalogue', async () => {
    await run(() => backups.verifyBackup(backupId));
  });

  it('taken again, writes nothing more; a killed attempt leaves no incomplete upload behind', async () => {
    const before = await row(backupId);
    await run(() => backups.takeBackup(backupId));
    expect(await row(backupId)).toEqual(before);
    expect(await keysUnder(before.objectPrefix)).toHaveLength(3);

    // A backup whose first attempt died mid-upload, then was tried again, twice.
    const retried = await backup('manual', { take: false });
    const prefix = (await row(retried)).objectPrefix;
    await leaveUploadOpen(prefix);
    await run(() => backups.takeBackup(retried));
    await run(() => backups.takeBackup(retried));
    expect(await keysUnder(prefix)).toEqual([`${prefix}configuration.sealed`, `${prefix}database.dump`, `${prefix}manifest.json`]);
    expect(await uploadsUnder(prefix)).toBe(0);
    expect((await row(retried)).parts[0]).toMatchObject({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('stops pg_dump and the upload when cancelled: nothing written, the row still running', async () => {
    const cancelled = await backup('manual', { take: false });
    const prefix = (await row(cancelled)).objectPrefix;
    expect(await cancelledAtFirstHeartbeat(() => backups.takeBackup(cancelled))).toBeInstanceOf(CancelledFailure);
    expect(await keysUnder(prefix)).toEqual([]);
    expect(await uploadsUnder(prefix)).toBe(0);
    expect((await row(cancelled)).status).toBe('running');
    // pg_dump's session ends with it.
    const dumping = async () => sql`select 1 from pg_stat_activity where datname = ${database} and application_name = 'shipyard-backup'`;
    for (let i = 0; i < 50 && (await dumping()).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await dumping()).toEqual([]);
  });

  it('refuses a backup that is not completed, and one whose tenant database is gone', async () => {
    const running = await backup('manual', { take: false });
    expect(await failure(run(() => backups.verifyBackup(running)), 'BackupNotUsable')).toContain(`backup ${running} is running`);

    const empty = await newCatalogueInstance(catalogue, 'bak');
    const { backupId: orphan } = await run(() => backups.beginBackup({ instanceId: empty.instanceId, operationId: empty.operationId, kind: 'manual' }));
    taken.push(orphan);
    expect(await failure(run(() => backups.takeBackup(orphan)), 'BackupSourceMissing')).toContain(`tenant_${empty.slug.replaceAll('-', '_')}`);
  });

  it('fails for good when the bucket does not exist', async () => {
    const elsewhere = createBackupActivities({ ...full, config: { ...deps.config, backupBucket: 'no-such-bucket-here' } });
    const operationId = newId('op');
    await catalogue.insert(operations).values({ id: operationId, instanceId, kind: 'backup', status: 'succeeded', workflowId: `test:${operationId}`, actor: 'test' });
    const { backupId: lost } = await run(() => elsewhere.beginBackup({ instanceId, operationId, kind: 'manual' }));
    expect(await failure(run(() => elsewhere.takeBackup(lost)), 'MissingDependency')).toMatch(/S3 answered NoSuchBucket/);
  });

  it('fails with a retryable error naming the endpoint when S3 cannot be reached', async () => {
    const unreachable = 'http://127.0.0.1:9';
    const offline = createBackupActivities({
      ...full,
      config: { ...deps.config, s3Endpoint: unreachable },
      s3: new S3Client({ region: deps.config.awsRegion, endpoint: unreachable, forcePathStyle: true, maxAttempts: 1 }),
    });
    const pending = await backup('manual', { take: false });
    const err = await run(() => offline.takeBackup(pending)).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(err!.message).toMatch(/S3 unreachable at http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED/);
    expect((await row(pending)).status).toBe('running');
  });

  it('discards a backup that did not finish: objects and uploads gone, row failed; a completed one stays', async () => {
    const unfinished = await backup('manual', { take: false });
    const prefix = (await row(unfinished)).objectPrefix;
    await deps.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}database.dump`, Body: 'partial' }));
    await leaveUploadOpen(prefix);
    expect((await listBackupPrefixes(deps)).map((p) => p.id)).toEqual(expect.arrayContaining([unfinished, backupId]));

    await run(() => backups.discardBackup(unfinished, 'operation ended before the backup completed'));
    await run(() => backups.discardBackup(unfinished, 'a second time'));
    expect(await row(unfinished)).toMatchObject({ status: 'failed', error: 'operation ended before the backup completed' });
    expect(await keysUnder(prefix)).toEqual([]);
    expect(await uploadsUnder(prefix)).toBe(0);

    const completed = await row(backupId);
    await run(() => backups.discardBackup(backupId, 'not this one'));
    expect(await row(backupId)).toEqual(completed);
    expect(await keysUnder(completed.objectPrefix)).toHaveLength(3);
  });
});

describe('streamed upload', () => {
  const prefix = `${deps.config.backupPrefix}test-uploads/${newId('bak')}/`;
  afterAll(async () => {
    for (const key of await keysUnder(prefix)) await deps.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  });

  /** `total` random bytes in pipe-sized chunks, failing after `failAfter` bytes when given. */
  async function* source(total: number, failAfter = Infinity): AsyncGenerator<Buffer> {
    for (let sent = 0; sent < total; sent += 65_536) {
      if (sent >= failAfter) throw new Error('pg_dump exited with 1: connection lost');
      yield randomBytes(Math.min(65_536, total - sent));
    }
  }

  it('sends an input larger than a part as a multipart upload of the same bytes', async () => {
    const total = 2 * uploadPartSize + 12_345;
    const hash = createHash('sha256');
    const hashed = async function* () {
      for await (const chunk of source(total)) {
        hash.update(chunk);
        yield chunk;
      }
    };
    await uploadStream(deps, bucket, `${prefix}big`, Readable.from(hashed()), { signal: new AbortController().signal });
    const bytes = await objectBytes(`${prefix}big`);
    expect({ size: bytes.length, sha256: sha256(bytes) }).toEqual({ size: total, sha256: hash.digest('hex') });
    expect(await uploadsUnder(prefix)).toBe(0);
  });

  it('leaves neither object nor upload when its input fails halfway, and throws the input\'s error', async () => {
    const upload = uploadStream(deps, bucket, `${prefix}cut`, Readable.from(source(3 * uploadPartSize, uploadPartSize + 1)), { signal: new AbortController().signal });
    await expect(upload).rejects.toThrow('pg_dump exited with 1: connection lost');
    expect(await keysUnder(`${prefix}cut`)).toEqual([]);
    expect(await uploadsUnder(prefix)).toBe(0);
  });
});

describe('restore', () => {
  let backupId: string;
  const operationId = newId('op');
  sides.push({ slug: () => slug, operationId });

  beforeAll(async () => {
    backupId = await backup('manual');
    // The app goes on after the backup.
    await appDb`update shipments set note = 'changed' where id = 1`;
    await appDb`delete from shipments where id = 2`;
    await appDb`insert into shipments values (4, 'davit', 'new')`;
  });

  it('restores into a side database (again from scratch when repeated), leaving the live one alone', async () => {
    const changed = await liveRows();
    await run(() => backups.restoreIntoSideDatabase({ backupId, slug, operationId }));
    const { heartbeats } = await inActivity(() => backups.restoreIntoSideDatabase({ backupId, slug, operationId }));
    expect(heartbeats.at(-1)).toMatchObject({ detail: expect.stringMatching(new RegExp(`^restoring backup ${backupId} into restore_${operationId}: \\d+ MB of \\d+ MB restored$`)) });
    expect(await databasesOf(operationId)).toEqual([`restore_${operationId}`]);
    expect(await liveRows()).toEqual(changed);
  });

  it('swaps the restored database in: the rows as at backup time, owned by and readable by the tenant role', async () => {
    // The app's session is still open: the swap ends it.
    await run(() => backups.swapInRestoredDatabase({ slug, operationId }));
    await run(() => backups.swapInRestoredDatabase({ slug, operationId }));
    expect(await databasesOf(operationId)).toEqual([`previous_${operationId}`]);

    await appDb.end({ timeout: 5 });
    appDb = postgres((await secretValues()).DATABASE_URL!, { max: 1, onnotice: () => undefined });
    expect(await liveRows()).toEqual(rowsAtBackup);
    const [owners] = await appDb<{ table_owner: string; database_owner: string }[]>`
      select (select tableowner from pg_tables where tablename = 'shipments') as table_owner,
             (select r.rolname from pg_database d join pg_roles r on r.oid = d.datdba where d.datname = current_database()) as database_owner`;
    expect(owners).toEqual({ table_owner: database, database_owner: database });
    // The app may write again, as before.
    await appDb`insert into shipments values (5, 'ensign', 'after restore')`;
  });

  it('swaps back on undo, and again is nothing to do; the side databases then drop', async () => {
    await appDb.end({ timeout: 5 });
    await run(() => backups.swapBackPreviousDatabase({ slug, operationId }));
    await run(() => backups.swapBackPreviousDatabase({ slug, operationId }));
    expect(await databasesOf(operationId)).toEqual([`restore_${operationId}`]);
    appDb = postgres((await secretValues()).DATABASE_URL!, { max: 1, onnotice: () => undefined });
    expect((await liveRows()).map((r) => r.id)).toEqual([1, 3, 4]);

    await run(() => backups.dropSideDatabases({ slug, operationId }));
    await run(() => backups.dropSideDatabases({ slug, operationId }));
    expect(await databasesOf(operationId)).toEqual([]);
    expect((await liveRows()).map((r) => r.id)).toEqual([1, 3, 4]);
  });

  it('puts the app secret back, keeping the database password, and returns the version', async () => {
    const atBackup = (await secretValues()).APP_SECRET;
    // Another app secret since (the same shared writer the restore uses, as a provision would).
    const { writeAppSecret } = await import('../../activities/app-secret');
    const { kubeObjects } = await import('../../activities/kube-objects');
    await writeAppSecret({ ...deps, objects: kubeObjects(deps.kube) }, slug, 'rotated-since-the-backup');
    const before = await secretValues();
    expect(before.APP_SECRET).toBe('rotated-since-the-backup');

    expect(await run(() => backups.restoreConfiguration({ backupId, slug }))).toEqual({ version: '1.0.0' });
    const after = await secretValues();
    expect(after).toEqual({ DATABASE_URL: before.DATABASE_URL, APP_SECRET: atBackup });
    expect(await liveRows()).toHaveLength(3); // the password still works
  });

  it('reads a backup sealed with no keyring, and names the key a keyring has lost', async () => {
    const plain = createBackupActivities({ ...full, config: { ...deps.config, encryptionKeys: [] } });
    const unsealed = await backup('manual', { activities: plain });
    expect((await row(unsealed)).encryptionKeyId).toBeNull();
    expect(await run(() => plain.restoreConfiguration({ backupId: unsealed, slug }))).toEqual({ version: '1.0.0' });

    const keyId = (await row(backupId)).encryptionKeyId!;
    const rotated = createBackupActivities({ ...full, config: { ...deps.config, encryptionKeys: [{ id: 'newer', key: Buffer.alloc(32, 1).toString('base64') }] } });
    expect(await failure(run(() => rotated.restoreConfiguration({ backupId, slug })), 'BackupNotUsable')).toContain(`key id "${keyId}"`);
  });

  it('finds a tampered dump: verify and restore fail with BackupCorrupt naming the part, and nothing live changes', async () => {
    const tampered = await backup('manual');
    const { objectPrefix, parts } = await row(tampered);
    await deps.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${objectPrefix}database.dump`, Body: Buffer.alloc(parts[0]!.sizeBytes, 0x42) }));
    const expected = parts[0]!.sha256;

    const verified = await failure(run(() => backups.verifyBackup(tampered)), 'BackupCorrupt');
    expect(verified).toMatch(new RegExp(`^backup ${tampered} part database\\.dump: sha256 [0-9a-f]{64} expected ${expected}$`));

    const op = newId('op');
    sides.push({ slug: () => slug, operationId: op });
    const live = await liveRows();
    const restored = await failure(run(() => backups.restoreIntoSideDatabase({ backupId: tampered, slug, operationId: op })), 'BackupCorrupt');
    expect(restored).toContain(`backup ${tampered} part database.dump: sha256`);
    expect(await databasesOf(op)).toEqual([]);
    expect(await liveRows()).toEqual(live);

    // A missing object is corrupt too, and named as such.
    await backups.deleteBackupObjects(tampered);
    expect(await failure(run(() => backups.verifyBackup(tampered)), 'BackupCorrupt')).toContain(`part database.dump: object s3://${bucket}/${objectPrefix}database.dump is missing`);
  });

  it('restores another instance’s backup (a clone) as the new instance’s own role', async () => {
    const clone = `${slug}-c`;
    emptySlugs.push(clone);
    const cloneDb = `tenant_${clone.replaceAll('-', '_')}`;
    const op = newId('op');
    sides.push({ slug: () => clone, operationId: op });
    await tenant.ensureTenantDatabase(clone, { connectionLimit: 2 });
    await run(() => backups.restoreIntoSideDatabase({ backupId, slug: clone, operationId: op }));
    await run(() => backups.swapInRestoredDatabase({ slug: clone, operationId: op }));
    await run(() => backups.dropSideDatabases({ slug: clone, operationId: op }));
    expect(await databasesOf(op)).toEqual([]);
    // Read through a session in the clone's database, as the admin acting as the clone's role.
    const admin = postgres({ ...parseUrl(deps.config.tenantDatabaseUrl), database: cloneDb, max: 1, onnotice: () => undefined });
    try {
      const rows = await admin.begin(async (tx) => {
        await tx.unsafe(`set local role "${cloneDb}"`);
        return tx<{ owner: string; n: number }[]>`select tableowner as owner, (select count(*)::int from shipments) as n from pg_tables where tablename = 'shipments'`;
      });
      expect(rows).toEqual([{ owner: cloneDb, n: 3 }]);
    } finally {
      await admin.end({ timeout: 5 });
    }
  });
});

function parseUrl(url: string) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port), username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
}
