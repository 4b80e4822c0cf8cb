// The backup sweep end to end, with worker and API as real processes, real pg_dump and moto's S3:
// an instance on a plan that backs up every 14.4 s is backed up by a sweep when due and not
// before, again after the interval, and the third backup lets the oldest go (keep count 2) —
// objects and row; a retried backup activity starts nothing twice; then rows and objects that
// disagree are repaired. The sweeps are started here
// (the stack's schedule runs once a day) and scoped to this file's plan: the catalogue is shared
// with every other file, whose instances must not get backup operations from this one.
import { DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type Client, type Connection, ScheduleOverlapPolicy } from '@temporalio/client';
import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupSweepActivities, LEFT_RUNNING } from '../../activities/backup-sweep';
import { catalogueNow, instancesDueForBackup } from '../../db/backups';
import { connectCatalogue, type Database } from '../../db/client';
import { newId } from '../../db/ids';
import { operations } from '../../db/schema';
import { backups, plans } from '../../db/schema';
import { backupKeyPrefix } from '../../domain/backups';
import { backupSweepScheduleId } from '../../domain/schedules';
import { connectTemporalClient } from '../../temporal/data-converter';
import type { BackupSweepInput, BackupSweepResult } from '../../workflows/backup-sweep';
import { inActivity } from '../activities/activity-context';
import { testbedDeps } from '../activities/testbed-deps';
import { testPlan } from '../support/catalogue-rows';
import { uniqueSuffix } from '../support/config';
import { type Stack, startStack } from '../support/stack';
import { until } from '../support/until';

const suffix = uniqueSuffix();
const plan = { ...testPlan(`test-sweep-${suffix}`, '0.1'), backupEveryHours: 0.004, backupKeepCount: 2, backupKeepDays: 0, backupPricePerGbMonthCents: 10 };
const slug = `bsweep-${suffix}`;
const INTERVAL_MS = plan.backupEveryHours * 3_600_000;

let stack: Stack;
let db: Database;
let temporal: { client: Client; connection: Connection };
let s3: S3Client;
let instanceId: string;
let provisionId: string;
let sweeps = 0;

beforeAll(async () => {
  // Capacity is not what this file tests, and the shared testbed holds every other file's instances too.
  stack = await startStack({ SHIPYARD_OVERCOMMIT_RATIO: '100', SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '60' });
  db = connectCatalogue(stack.config.databaseUrl, { max: 2 });
  temporal = await connectTemporalClient(stack.config);
  s3 = new S3Client({ region: stack.config.awsRegion, endpoint: stack.config.s3Endpoint, forcePathStyle: true });
  await db.insert(plans).values(plan);
  const created = await stack.api.call('POST', '/v1/instances', { name: slug, slug, plan: plan.name, ownerEmail: 'ops@sweep.test' });
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  provisionId = created.body.operation.id;
  expect((await stack.api.settled(provisionId)).status).toBe('succeeded');
  instanceId = created.body.instance?.id ?? (await stack.api.call('GET', `/v1/instances/${slug}`)).body.id;
});

afterAll(async () => {
  if (db) await db.update(plans).set({ backupEveryHours: null }).where(eq(plans.name, plan.name));
  if (stack) {
    const gone = await stack.api.call('DELETE', `/v1/instances/${slug}?grace=0`);
    if (gone.status === 202) await stack.api.settled(gone.body.operation.id).catch(() => undefined);
    await stack.stop();
  }
  await temporal?.connection.close();
  await db?.$client.end();
  s3?.destroy();
});

/** Runs one sweep over this file's plan on the stack's worker and returns its result. */
async function sweep(): Promise<BackupSweepResult> {
  const input: BackupSweepInput = { parallelism: 2, plans: [plan.name] };
  return temporal.client.workflow.execute('backupSweep', {
    taskQueue: stack.config.taskQueue,
    workflowId: `backup-sweep-test-${suffix}-${++sweeps}`,
    args: [input],
    workflowExecutionTimeout: '5m',
  });
}

/** Sweeps until one finds the instance due (sweeps before that find nothing due and start nothing). */
async function sweepWhenDue(): Promise<BackupSweepResult> {
  return until(
    'a sweep that finds the instance due',
    async () => {
      const result = await sweep();
      if (result.due > 0) return result;
      expect(result).toMatchObject({ due: 0, started: 0, succeeded: 0, failed: 0, busy: 0 });
      await new Promise((r) => setTimeout(r, 1_000));
      return undefined;
    },
    60_000,
  );
}

const rows = () => db.select().from(backups).where(eq(backups.instanceId, instanceId)).orderBy(asc(backups.id));
const scheduled = async () => (await rows()).filter((b) => b.kind === 'scheduled');

async function keysUnder(prefix: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: stack.config.backupBucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort();
}

const allParts = ['configuration.sealed', 'database.dump', 'manifest.json'];

/** A backup id made `agoMs` ago (ids carry their time: db/ids.ts). */
function idMadeAgo(agoMs: number): string {
  const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
  let time = Date.now() - agoMs;
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = alphabet[time % 32] + head;
    time = Math.floor(time / 32);
  }
  return `bak_${head}${newId('bak').slice(-16)}`;
}

const put = (key: string) => s3.send(new PutObjectCommand({ Bucket: stack.config.backupBucket, Key: key, Body: 'x' }));

describe('the backup sweep', () => {
  it('runs from one fleet-wide schedule the worker keeps, at the configured interval, never two at once', async () => {
    const described = await temporal.client.schedule.getHandle(backupSweepScheduleId(stack.config)).describe();
    expect(backupSweepScheduleId(stack.config)).toBe(`shipyard-backups@${stack.config.taskQueue}`);
    expect(described.spec.intervals?.[0]?.every).toBe(86_400_000); // test stacks sweep on demand only
    expect(described.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'backupSweep', taskQueue: stack.config.taskQueue });
    expect(described.action.type === 'startWorkflow' && described.action.args).toEqual([{ parallelism: stack.config.backupParallelism }]);
  });

  it('backs up a due instance once (a scheduled backup, completed, its objects in S3); a sweep right after starts nothing', async () => {
    const first = await sweepWhenDue();
    expect(first).toMatchObject({ due: 1, started: 1, succeeded: 1, failed: 0, busy: 0, expired: 0, failures: [] });
    const [backup, ...others] = await scheduled();
    expect(others).toEqual([]);
    expect(backup).toMatchObject({ kind: 'scheduled', status: 'completed' });
    expect(backup!.sizeBytes).toBeGreaterThan(0);
    expect(await keysUnder(backup!.objectPrefix)).toEqual(allParts);

    // Started through the lifecycle, as the sweep's actor: it shows among the instance's operations.
    const { body: ops } = await stack.api.call('GET', `/v1/instances/${slug}/operations`);
    expect(ops.items.filter((o: { kind: string }) => o.kind === 'backup')).toEqual([
      expect.objectContaining({ kind: 'backup', status: 'succeeded', actor: 'backup-sweep' }),
    ]);
    const { body: instance } = await stack.api.call('GET', `/v1/instances/${slug}`);
    expect(instance.status).toBe('ready');

    const again = await sweep();
    expect(again).toMatchObject({ due: 0, started: 0, succeeded: 0, expired: 0 });
    expect(await scheduled()).toHaveLength(1);
  });

  it('backs it up again once the interval has passed since the last one completed', async () => {
    const [last] = await scheduled();
    const second = await sweepWhenDue();
    expect(second).toMatchObject({ due: 1, started: 1, succeeded: 1, expired: 0 });
    const all = await scheduled();
    expect(all.map((b) => b.status)).toEqual(['completed', 'completed']);
    expect(all[1]!.startedAt.getTime() - last!.completedAt!.getTime()).toBeGreaterThanOrEqual(INTERVAL_MS - 1_000);
  });

  it('the third backup lets the oldest go (keep count 2, keep days 0): its objects removed, its row expired; the next sweep starts nothing', async () => {
    const [oldest] = await scheduled();
    const third = await sweepWhenDue();
    expect(third).toMatchObject({ due: 1, started: 1, succeeded: 1, expired: 1 });
    const all = await scheduled();
    expect(all.map((b) => b.status)).toEqual(['expired', 'completed', 'completed']);
    expect(all[0]!.id).toBe(oldest!.id);
    expect(all[0]!.expiredAt).toBeInstanceOf(Date);
    expect(await keysUnder(oldest!.objectPrefix)).toEqual([]);
    for (const kept of all.slice(1)) expect(await keysUnder(kept.objectPrefix)).toEqual(allParts);

    const again = await sweep();
    expect(again).toMatchObject({ due: 0, started: 0, expired: 0 });
    expect((await scheduled()).map((b) => b.status)).toEqual(['expired', 'completed', 'completed']);
  });

  it('a retried backup activity waits on the operation its sweep started and never starts a second; a later sweep finds it not due', async () => {
    await until('the instance to be due again', async () => ((await instancesDueForBackup(db, { instanceId, limit: 1 })).length ? true : undefined), 30_000);
    // The activities of a worker of the stack's deployment, run here: what a retry after a worker died runs.
    const parts = testbedDeps();
    const activities = createBackupSweepActivities({ ...parts, config: stack.config, db, temporal: temporal.client });
    try {
      const since = (await catalogueNow(db)).toISOString();
      const first = await inActivity(() => activities.backupForSweep('test-sweep', slug, since));
      expect(first.result).toMatchObject({ status: 'succeeded', operationId: expect.any(String) });
      // The same sweep's activity again (a retry): the same operation, nothing started.
      const retried = await inActivity(() => activities.backupForSweep('test-sweep', slug, since));
      expect(retried.result).toEqual(first.result);
      const backupOps = await db.select().from(operations).where(and(eq(operations.instanceId, instanceId), eq(operations.kind, 'backup')));
      expect(backupOps.filter((o) => o.startedAt >= new Date(since))).toHaveLength(1);
      // Another sweep, begun after it: the instance has just been backed up, so it is not due.
      const later = (await catalogueNow(db)).toISOString();
      expect((await inActivity(() => activities.backupForSweep('test-sweep-2', slug, later))).result).toMatchObject({ status: 'refused' });
    } finally {
      await parts.tenantDb.end();
      parts.s3.destroy();
      parts.route53.destroy();
    }
    // Four scheduled backups now: the next sweep lets the oldest completed one go.
    expect(await sweep()).toMatchObject({ due: 0, started: 0, expired: 1 });
    expect((await scheduled()).map((b) => b.status)).toEqual(['expired', 'expired', 'completed', 'completed']);
  });

  it('repairs what disagrees: a backup left running, a completed one whose objects are gone, objects no row names', async () => {
    // Nothing is due from here on: this sweep only repairs.
    await db.update(plans).set({ backupEveryHours: 1000 }).where(eq(plans.name, plan.name));
    const prefix = stack.config.backupPrefix;
    type Fields = Pick<typeof backups.$inferInsert, 'kind'> & Partial<typeof backups.$inferInsert>;
    const row = (id: string, fields: Fields): typeof backups.$inferInsert => ({
      id,
      instanceId,
      operationId: provisionId,
      bucket: stack.config.backupBucket,
      objectPrefix: backupKeyPrefix(prefix, instanceId, id),
      appVersion: '1.0.0',
      plan: plan.name,
      ...fields,
    });
    // Left running by an operation that has ended (the provision here), with a part it wrote.
    const leftRunning = newId('bak');
    await db.insert(backups).values(row(leftRunning, { kind: 'manual', status: 'running' }));
    await put(`${backupKeyPrefix(prefix, instanceId, leftRunning)}database.dump`);
    // Completed (the newest, so retention keeps it), but its objects are not in the bucket.
    const lost = newId('bak');
    await db.insert(backups).values(row(lost, { kind: 'pre-restore', status: 'completed', sizeBytes: 123, completedAt: await catalogueNow(db) }));
    // Objects no row names: one from two hours ago, one just made (an upload whose row may be on its way).
    const stray = idMadeAgo(2 * 3_600_000);
    const young = idMadeAgo(0);
    await put(`${backupKeyPrefix(prefix, instanceId, stray)}database.dump`);
    await put(`${backupKeyPrefix(prefix, instanceId, stray)}manifest.json`);
    await put(`${backupKeyPrefix(prefix, instanceId, young)}database.dump`);
    // Not Shipyard's shape of key: never touched.
    const foreign = `${prefix}${instanceId}/not-a-backup/file`;
    await put(foreign);

    try {
      const result = await sweep();
      expect(result).toMatchObject({ due: 0, started: 0, expired: 0, repaired: 3 });

      const byId = new Map((await rows()).map((b) => [b.id, b]));
      expect(byId.get(leftRunning)).toMatchObject({ status: 'failed', error: LEFT_RUNNING });
      expect(await keysUnder(backupKeyPrefix(prefix, instanceId, leftRunning))).toEqual([]);
      expect(byId.get(lost)).toMatchObject({ status: 'expired', error: expect.stringContaining('missing from the bucket') });
      expect(await keysUnder(backupKeyPrefix(prefix, instanceId, stray))).toEqual([]);
      expect(await keysUnder(backupKeyPrefix(prefix, instanceId, young))).toEqual(['database.dump']);
      expect(await keysUnder(`${prefix}${instanceId}/not-a-backup/`)).toEqual(['file']);
      // The scheduled backups are as they were.
      expect((await scheduled()).map((b) => b.status)).toEqual(['expired', 'expired', 'completed', 'completed']);

      // Repaired means repaired: the next sweep finds nothing to do.
      expect(await sweep()).toMatchObject({ due: 0, started: 0, expired: 0, repaired: 0 });
    } finally {
      await s3.send(
        new DeleteObjectsCommand({
          Bucket: stack.config.backupBucket,
          Delete: { Objects: [{ Key: `${backupKeyPrefix(prefix, instanceId, young)}database.dump` }, { Key: foreign }] },
        }),
      );
      await db.delete(backups).where(and(eq(backups.instanceId, instanceId), eq(backups.operationId, provisionId)));
    }
  });
});
