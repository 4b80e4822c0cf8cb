// A customer's data through every way it could be lost: backups, restore (also from a tampered
// backup, also cancelled), clones, a delete taken back, a purge and the clone that brings the
// customer back, and a worker killed mid-backup. Driven through the HTTP API, checked against the
// real Postgres (through the instance's own DATABASE_URL), Kubernetes, Route 53 and S3.
import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CoreV1Api } from '@kubernetes/client-node';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../activities/kube-config';
import { namespaceFor } from '../../domain/instance';
import { uniqueSuffix } from '../support/config';
import { type Stack, startStack } from '../support/stack';
import { until } from '../support/until';
import { nothingLeft, worldReader } from '../support/world';

let stack: Stack;
let world: ReturnType<typeof worldReader>;
let s3: S3Client;
const suffix = uniqueSuffix();
const slug = `keep-${suffix}`;

interface Backup {
  id: string;
  instanceId: string;
  kind: string;
  status: string;
  sizeBytes: number;
  parts: { name: string; sizeBytes: number; sha256: string }[];
}

beforeAll(async () => {
  // The grace period as shipped: a delete here waits, unless the test purges at once (grace=0).
  stack = await startStack({ SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '30', SHIPYARD_DELETE_GRACE_HOURS: '72' });
  world = worldReader(stack.config);
  s3 = new S3Client({ region: stack.config.awsRegion, endpoint: stack.config.s3Endpoint, forcePathStyle: true });
  await provision(slug);
  await sql(slug, async (db) => {
    await db`create table notes (id int primary key, body text not null)`;
    await db`insert into notes select g, 'note ' || g from generate_series(1, 100) g`;
  });
});

afterAll(async () => {
  await stack?.stop();
  await world?.close();
  s3?.destroy();
});

async function provision(name: string, extra: Record<string, unknown> = {}): Promise<void> {
  const created = await stack.api.call('POST', '/v1/instances', { name, slug: name, plan: 'starter', ownerEmail: 'data@keep.test', ...extra });
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  const op = await stack.api.settled(created.body.operation.id);
  expect(op.status, JSON.stringify(op)).toBe('succeeded');
}

/** Runs `body` on the instance's own database, as the app would: through the DATABASE_URL in its Secret. */
async function sql<T>(name: string, body: (db: postgres.Sql) => Promise<T>): Promise<T> {
  const db = postgres(await world.appDatabaseUrl(name), { max: 1, onnotice: () => {} });
  try {
    return await body(db);
  } finally {
    await db.end({ timeout: 5 });
  }
}

const notes = (name: string) => sql(name, async (db) => (await db<{ n: number; last: string }[]>`select count(*)::int as n, max(body) as last from notes`)[0]);

async function appSecret(name: string): Promise<string> {
  const core = loadKubeConfig(stack.config.kubeconfig).makeApiClient(CoreV1Api);
  const secret = await core.readNamespacedSecret({ name: 'app-env', namespace: namespaceFor(name) });
  return Buffer.from(secret.data!.APP_SECRET!, 'base64').toString('utf8');
}

/** Takes a manual backup through the API and returns it, completed. */
async function backUp(name: string): Promise<Backup> {
  const started = await stack.api.call('POST', `/v1/instances/${name}/backups`);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  const op = await stack.api.settled(started.body.operation.id);
  expect(op.status, JSON.stringify(op)).toBe('succeeded');
  const { body: page } = await stack.api.call<{ items: Backup[] }>('GET', `/v1/instances/${name}/backups?limit=1`);
  expect(page.items[0]).toMatchObject({ kind: 'manual', status: 'completed' });
  return page.items[0]!;
}

async function objectKeys(prefix: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: stack.config.backupBucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key!).sort();
}

const prefixOf = (backup: Backup) => `${stack.config.backupPrefix}${backup.instanceId}/${backup.id}/`;

describe('backups and restore', () => {
  let backup: Backup;

  it('backs an instance up while it keeps serving: dump, sealed configuration and manifest in S3, sizes and checksums in the catalogue', async () => {
    backup = await backUp(slug);
    expect(backup.parts.map((p) => p.name).sort()).toEqual(['configuration.sealed', 'database.dump']);
    expect(await objectKeys(prefixOf(backup))).toEqual(['configuration.sealed', 'database.dump', 'manifest.json'].map((n) => prefixOf(backup) + n));
    const manifest = JSON.parse(
      await (await s3.send(new GetObjectCommand({ Bucket: stack.config.backupBucket, Key: `${prefixOf(backup)}manifest.json` }))).Body!.transformToString(),
    );
    expect(manifest).toMatchObject({ backupId: backup.id, kind: 'manual', parts: backup.parts, postgresServerVersion: expect.any(String) });
    // The app secret never sits in the bucket in the clear.
    const sealed = await (await s3.send(new GetObjectCommand({ Bucket: stack.config.backupBucket, Key: `${prefixOf(backup)}configuration.sealed` }))).Body!.transformToByteArray();
    expect(Buffer.from(sealed).includes(Buffer.from(await appSecret(slug)))).toBe(false);
    const { body: instance } = await stack.api.call('GET', `/v1/instances/${slug}`);
    expect(instance.status).toBe('ready');
    expect((await stack.api.call('GET', `/v1/backups/${backup.id}`)).body).toMatchObject({ id: backup.id, status: 'completed' });
  });

  it('restores the rows as they were at the backup, with the same app secret, and the app rolled out again', async () => {
    const secretBefore = await appSecret(slug);
    await sql(slug, (db) => db`update notes set body = 'changed'`);
    await sql(slug, (db) => db`insert into notes values (1000, 'after the backup')`);
    const started = await stack.api.call('POST', `/v1/instances/${slug}/restore`, { backupId: backup.id });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const op = await stack.api.settled(started.body.operation.id);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');
    expect(await notes(slug)).toEqual({ n: 100, last: 'note 99' });
    expect(await appSecret(slug)).toBe(secretBefore);
    const w = await world.read(slug);
    expect(w.deployments).toEqual([expect.objectContaining({ replicas: 1, readyReplicas: 1 })]);
    const { body: page } = await stack.api.call<{ items: Backup[] }>('GET', `/v1/instances/${slug}/backups`);
    expect(page.items.map((b) => b.kind)).toContain('pre-restore');
  });

  it('clones a backup into a new instance with the same rows and credentials of its own; both serve', async () => {
    const clone = `copy-${suffix}`;
    await provision(clone, { fromBackup: backup.id });
    expect(await notes(clone)).toEqual({ n: 100, last: 'note 99' });
    expect(await world.appDatabaseUrl(clone)).not.toBe(await world.appDatabaseUrl(slug));
    for (const name of [slug, clone]) {
      expect((await world.read(name)).deployments).toEqual([expect.objectContaining({ readyReplicas: 1 })]);
    }
    await sql(clone, (db) => db`insert into notes values (2000, 'only in the clone')`);
    expect(await notes(slug)).toMatchObject({ n: 100 });
  });

  it('refuses a restore from another instance (422), of an unknown backup (404), and a malformed body (400)', async () => {
    const other = `copy-${suffix}`;
    const otherBackup = await backUp(other);
    const wrong = await stack.api.call('POST', `/v1/instances/${slug}/restore`, { backupId: otherBackup.id });
    expect(wrong.status).toBe(422);
    expect(wrong.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect((await stack.api.call('POST', `/v1/instances/${slug}/restore`, { backupId: 'bak_00000000000000000000000000' })).status).toBe(404);
    expect((await stack.api.call('POST', `/v1/instances/${slug}/restore`, { backupId: 'nope' })).status).toBe(400);
    expect((await stack.api.call('GET', '/v1/backups/bak_00000000000000000000000000')).status).toBe(404);
  });

  it('fails a restore from a tampered backup before touching the live database, naming the part', async () => {
    const tampered = await backUp(slug);
    await s3.send(new PutObjectCommand({ Bucket: stack.config.backupBucket, Key: `${prefixOf(tampered)}database.dump`, Body: 'not a dump' }));
    await sql(slug, (db) => db`insert into notes values (3000, 'live row')`);
    const started = await stack.api.call('POST', `/v1/instances/${slug}/restore`, { backupId: tampered.id });
    const op = await stack.api.settled(started.body.operation.id);
    expect(op.status).toBe('failed');
    expect(op.error).toMatch(/database\.dump/);
    expect(op.steps.find((s) => s.name === 'stop app')?.status).toBe('pending');
    expect(await notes(slug)).toEqual({ n: 101, last: 'note 99' });
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body.status).toBe('ready');
  });

  it('leaves the live rows exactly as they were when a restore is cancelled midway', async () => {
    // A backup with enough data that its restore is still streaming when the cancel arrives.
    const randomHex = Array.from({ length: 16 }, () => 'md5(random()::text)').join(' || ');
    await sql(slug, (db) => db`create table ballast as select g as id, ${db.unsafe(randomHex)} as body from generate_series(1, 120000) g`);
    const heavy = await backUp(slug);
    await sql(slug, (db) => db`drop table ballast`);
    const started = await stack.api.call('POST', `/v1/instances/${slug}/restore`, { backupId: heavy.id });
    await until('the restore streaming into its new database', async () => {
      const { body } = await stack.api.call('GET', `/v1/operations/${started.body.operation.id}`);
      return body.steps.find((s: { name: string; status: string }) => s.name === 'restore into a new database')?.status === 'running' || undefined;
    });
    const cancelled = await stack.api.call('POST', `/v1/operations/${started.body.operation.id}/cancel`);
    expect(cancelled.status).toBe(202);
    const op = await stack.api.settled(started.body.operation.id);
    expect(op.status).toBe('cancelled');
    expect(await notes(slug)).toEqual({ n: 101, last: 'note 99' });
    expect(await sql(slug, async (db) => (await db`select to_regclass('ballast') as t`)[0]!.t)).toBeNull();
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body.status).toBe('ready');
    await until('app serving again', async () => (await world.read(slug)).deployments[0]?.readyReplicas === 1 || undefined);
  });
});

describe('a delete that can be taken back', () => {
  it('stops serving at once, takes a final backup, and waits; an undelete brings it back with its rows', async () => {
    const deleted = await stack.api.call('DELETE', `/v1/instances/${slug}`);
    expect(deleted.status).toBe(202);
    const operationId = deleted.body.operation.id;
    await until('deleting with its purge time', async () => {
      const { body } = await stack.api.call('GET', `/v1/instances/${slug}`);
      return body.status === 'deleting' && body.purgeAt ? body : undefined;
    });
    const { body: instance } = await stack.api.call('GET', `/v1/instances/${slug}`);
    expect(new Date(instance.purgeAt).getTime() - Date.now()).toBeGreaterThan(71 * 3_600_000);
    expect((await world.read(slug)).deployments).toEqual([expect.objectContaining({ replicas: 0 })]);
    const { body: page } = await stack.api.call<{ items: Backup[] }>('GET', `/v1/instances/${slug}/backups?limit=1`);
    expect(page.items[0]).toMatchObject({ kind: 'final', status: 'completed' });
    // While it is deleting, its only way back is not removed; nothing else may start on it.
    expect((await stack.api.call('POST', `/v1/instances/${slug}/backups`)).status).toBe(409);

    const undeleted = await stack.api.call('POST', `/v1/instances/${slug}/undelete`);
    expect(undeleted.status, JSON.stringify(undeleted.body)).toBe(202);
    const op = await stack.api.settled(operationId);
    expect(op.status).toBe('rolled_back');
    const { body: back } = await stack.api.call('GET', `/v1/instances/${slug}`);
    expect(back.status).toBe('ready');
    expect(back.purgeAt).toBeUndefined();
    expect(await notes(slug)).toEqual({ n: 101, last: 'note 99' });
    expect((await world.read(slug)).deployments).toEqual([expect.objectContaining({ replicas: 1, readyReplicas: 1 })]);
    expect((await stack.api.call('POST', `/v1/instances/${slug}/undelete`)).status).toBe(409);
  });

  it('purges at once with grace=0 (admin only), leaving only the final backup; a clone from it brings the customer back', async () => {
    const key = await stack.api.call('POST', '/v1/api-keys', { name: `operator-${suffix}`, role: 'operator' });
    const asOperator = await fetch(`${stack.api.baseUrl}/v1/instances/${slug}?grace=0`, { method: 'DELETE', headers: { authorization: `Bearer ${key.body.key}` } });
    expect(asOperator.status).toBe(403);

    const deleted = await stack.api.call('DELETE', `/v1/instances/${slug}?grace=0`);
    expect(deleted.status).toBe(202);
    const op = await stack.api.settled(deleted.body.operation.id);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');
    expect(await world.readSettled(slug)).toMatchObject(nothingLeft);
    const { body: page } = await stack.api.call<{ items: Backup[] }>('GET', `/v1/instances/${slug}/backups`);
    const final = page.items.find((b) => b.kind === 'final' && b.status === 'completed')!;
    expect(final).toMatchObject({ expiresAt: expect.any(String) });
    expect(await objectKeys(prefixOf(final))).toHaveLength(3);
    // Its older backups may go; the last way back is kept.
    for (const older of page.items.filter((b) => b.status === 'completed' && b.id !== final.id)) {
      expect((await stack.api.call('DELETE', `/v1/backups/${older.id}`)).body).toMatchObject({ id: older.id, status: 'expired' });
    }
    const refused = await stack.api.call('DELETE', `/v1/backups/${final.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/only completed backup/);

    const again = `back-${suffix}`;
    await provision(again, { fromBackup: final.id });
    expect(await notes(again)).toEqual({ n: 101, last: 'note 99' });
  });
});

describe('a worker killed mid-backup', () => {
  it('ends with exactly one completed backup and no multipart upload left half-written', async () => {
    const big = `bulk-${suffix}`;
    await provision(big);
    // Enough data (random, so it does not compress away) that the upload is still going when the worker dies.
    const randomHex = Array.from({ length: 16 }, () => 'md5(random()::text)').join(' || ');
    await sql(big, (db) => db`create table blobs as select g as id, ${db.unsafe(randomHex)} as body from generate_series(1, 80000) g`);
    const started = await stack.api.call('POST', `/v1/instances/${big}/backups`);
    const operationId = started.body.operation.id;
    await until('the dump under way', async () => {
      const { body } = await stack.api.call('GET', `/v1/operations/${operationId}`);
      const step = body.steps.find((s: { name: string }) => s.name === 'back up database and configuration');
      return (step?.status === 'running' && /^dumping /.test(step.detail ?? '')) || undefined;
    }, 60_000);
    await stack.worker.stop('SIGKILL');
    stack.restartWorker();
    const op = await stack.api.settled(operationId, 120_000);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');
    const { body: page } = await stack.api.call<{ items: Backup[] }>('GET', `/v1/instances/${big}/backups`);
    expect(page.items.map((b) => b.status)).toEqual(['completed']);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: stack.config.backupBucket, Prefix: prefixOf(page.items[0]!) }));
    expect(uploads.Uploads ?? []).toEqual([]);
    expect(await objectKeys(prefixOf(page.items[0]!))).toHaveLength(3);
  });
});
