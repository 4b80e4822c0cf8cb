// Credential rotation end to end, with worker and API as real processes: an instance's database
// password and app secret are rotated through the API; the new DATABASE_URL sees the data, the
// old one stops working only after the app rolled out on the new one; no secret reaches
// Temporal's history. A rotation whose rollout cannot finish (the namespace's quota refuses the
// new pod) is rolled back: the old credentials work on, the new ones never do. The schedule exists
// only while SHIPYARD_ROTATE_AFTER_DAYS is set, and its sweep rotates the instances that are due.
import { type Client, type Connection } from '@temporalio/client';
import { CoreV1Api, KubernetesObjectApi, PatchStrategy, AppsV1Api } from '@kubernetes/client-node';
import { eq } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../activities/kube-config';
import { loginRolesFor } from '../../activities/tenant-database';
import { connectCatalogue, type Database } from '../../db/client';
import { instances, plans } from '../../db/schema';
import { databaseRoleFor, namespaceFor } from '../../domain/instance';
import { workflowIdFor } from '../../domain/operations';
import { credentialRotationScheduleId } from '../../domain/schedules';
import { connectTemporalClient } from '../../temporal/data-converter';
import { History } from '../../temporal/proto';
import type { RotationSweepInput, RotationSweepResult } from '../../workflows/credential-rotation-sweep';
import { ensureSchedules } from '../../worker/schedules';
import { testPlan } from '../support/catalogue-rows';
import { uniqueSuffix } from '../support/config';
import { payloadsIn, rawHistory, type WirePayload } from '../support/history';
import { type Operation, type Stack, startStack } from '../support/stack';
import { until } from '../support/until';
import { worldReader } from '../support/world';

const suffix = uniqueSuffix();
// Room for one pod beside the one that runs: a rolling restart surges, and a quota cut to one pod refuses it.
const plan = { ...testPlan(`test-rotate-${suffix}`, '0.2'), pods: 2, replicas: 1 };
const slug = `rot-${suffix}`;

let stack: Stack;
let db: Database;
let temporal: { client: Client; connection: Connection };
let world: ReturnType<typeof worldReader>;
let core: CoreV1Api;
let apps: AppsV1Api;
let objects: KubernetesObjectApi;

beforeAll(async () => {
  // Capacity is not what this file tests; a short rollout timeout makes the failed rotation quick.
  stack = await startStack({ SHIPYARD_OVERCOMMIT_RATIO: '100', SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '20' });
  db = connectCatalogue(stack.config.databaseUrl, { max: 2 });
  temporal = await connectTemporalClient(stack.config);
  world = worldReader(stack.config);
  const kube = loadKubeConfig(stack.config.kubeconfig);
  core = kube.makeApiClient(CoreV1Api);
  apps = kube.makeApiClient(AppsV1Api);
  objects = KubernetesObjectApi.makeApiClient(kube);
  await db.insert(plans).values(plan);
  const created = await stack.api.call('POST', '/v1/instances', { name: slug, slug, plan: plan.name, ownerEmail: 'ops@rotate.test' });
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  expect((await stack.api.settled(created.body.operation.id)).status).toBe('succeeded');
  await sql(await secretValues().then((s) => s.databaseUrl), async (app) => {
    await app`create table notes (id int primary key, body text not null)`;
    await app`insert into notes select g, 'note ' || g from generate_series(1, 10) g`;
  });
});

afterAll(async () => {
  if (stack) {
    const gone = await stack.api.call('DELETE', `/v1/instances/${slug}?grace=0`);
    if (gone.status === 202) await stack.api.settled(gone.body.operation.id).catch(() => undefined);
    await stack.stop();
  }
  await temporal?.connection.close();
  await world?.close();
  await db?.$client.end();
});

async function secretValues(name = 'app-env'): Promise<{ databaseUrl: string; appSecret: string }> {
  const secret = await core.readNamespacedSecret({ name, namespace: namespaceFor(slug) });
  const text = (key: string) => Buffer.from(secret.data![key]!, 'base64').toString('utf8');
  return { databaseUrl: text('DATABASE_URL'), appSecret: text('APP_SECRET') };
}

async function sql<T>(url: string, body: (app: postgres.Sql) => Promise<T>): Promise<T> {
  const app = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    return await body(app);
  } finally {
    await app.end({ timeout: 5 });
  }
}

/** Whether `url` logs in now, and as whom (session) and acting as whom (current_user). */
const logsIn = (url: string) =>
  sql(url, async (app) => (await app<{ sess: string; usr: string; n: number }[]>`select session_user as sess, current_user as usr, (select count(*)::int from notes) as n`)[0]!).catch(
    (err: { code?: string }) => ({ refused: err.code ?? String(err) }),
  );

const roleOf = (url: string) => decodeURIComponent(new URL(url).username);
const passwordOf = (url: string) => decodeURIComponent(new URL(url).password);

async function rotate(): Promise<{ id: string }> {
  const started = await stack.api.call('POST', `/v1/instances/${slug}/rotate-credentials`);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  expect(started.body.operation.kind).toBe('rotate_credentials');
  return started.body.operation;
}

async function restartMark(): Promise<string | undefined> {
  const deployment = await apps.readNamespacedDeployment({ name: 'app', namespace: namespaceFor(slug) });
  return deployment.spec?.template.metadata?.annotations?.['shipyard.dev/credentials'];
}

/** The operation's run, once Temporal has closed it, as stored (encrypted) and decoded through the codec endpoint. */
async function historyOfLastRun(): Promise<{ stored: Buffer; decoded: string }> {
  const history = await until('the run to be closed', async () => {
    const events = await rawHistory(temporal.connection, stack.config.temporalNamespace, workflowIdFor(slug));
    return events.events.some((e) => e.workflowExecutionCompletedEventAttributes || e.workflowExecutionFailedEventAttributes) ? events : undefined;
  });
  const payloads = payloadsIn(history).map((p) => p.payload);
  const res = await fetch(`${stack.api.baseUrl}/codec/decode`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': stack.config.temporalNamespace, authorization: `Bearer ${stack.config.adminKey}` },
    body: JSON.stringify({ payloads }),
  });
  expect(res.status).toBe(200);
  const decoded = ((await res.json()) as { payloads: WirePayload[] }).payloads.map((p) => Buffer.from(p.data ?? '', 'base64').toString('utf8')).join('\n');
  return { stored: Buffer.from(History.encode(history).finish()), decoded };
}

describe('credential rotation', () => {
  it('rotates the database password and app secret: the new URL sees the data, the old one stops only after the rollout; nothing secret in the history', async () => {
    const before = await secretValues();
    expect(roleOf(before.databaseUrl)).toBe(databaseRoleFor(slug));
    const [loginA] = loginRolesFor(slug);
    const [instanceBefore] = await db.select({ at: instances.credentialsRotatedAt }).from(instances).where(eq(instances.slug, slug));

    const operation = await rotate();
    const ended = await stack.api.settled(operation.id);
    expect(ended.status, JSON.stringify(ended)).toBe('succeeded');

    const after = await secretValues();
    expect(roleOf(after.databaseUrl)).toBe(loginA);
    expect(passwordOf(after.databaseUrl)).not.toBe(passwordOf(before.databaseUrl));
    expect(after.appSecret).not.toBe(before.appSecret);
    expect(await logsIn(after.databaseUrl)).toEqual({ sess: loginA, usr: databaseRoleFor(slug), n: 10 });
    expect(await logsIn(before.databaseUrl)).toEqual({ refused: expect.stringMatching(/^28/) });
    await expect(core.readNamespacedSecret({ name: 'app-env-previous', namespace: namespaceFor(slug) })).rejects.toMatchObject({ code: 404 });

    // The previous login was disabled only once the app had rolled out on the new one.
    const step = (name: string) => ended.steps.find((s) => s.name === name) as Operation['steps'][number] & { startedAt: string; endedAt: string };
    expect(ended.steps.filter((s) => s.status === 'done').map((s) => s.name)).toEqual([
      'check instance', 'read current login', 'write new credentials', 'restart app', 'wait for rollout', 'disable previous login', 'record rotation',
    ]);
    expect(Date.parse(step('disable previous login').startedAt)).toBeGreaterThanOrEqual(Date.parse(step('wait for rollout').endedAt));
    expect(await restartMark()).toBe(operation.id);

    const { body: instance } = await stack.api.call('GET', `/v1/instances/${slug}`);
    expect(instance.status).toBe('ready');
    const [instanceAfter] = await db.select({ at: instances.credentialsRotatedAt }).from(instances).where(eq(instances.slug, slug));
    expect(instanceAfter!.at.getTime()).toBeGreaterThan(instanceBefore!.at.getTime());
    const { body: events } = await stack.api.call<{ items: { action: string; outcome: string; operationId?: string }[] }>('GET', `/v1/instances/${slug}/events`);
    expect(events.items).toContainEqual(expect.objectContaining({ action: 'rotate_credentials', outcome: 'succeeded' }));

    const { stored, decoded } = await historyOfLastRun();
    expect(decoded).toContain(loginA); // the decoded history is readable: the check below means something
    for (const secret of [passwordOf(after.databaseUrl), after.appSecret, passwordOf(before.databaseUrl), before.appSecret]) {
      expect(decoded.includes(secret)).toBe(false);
      expect(stored.includes(secret)).toBe(false);
    }
  });

  it('rolls a rotation whose rollout cannot finish back: the old credentials work on, throughout, and the new ones never again', async () => {
    const before = await secretValues();
    const [loginA, loginB] = loginRolesFor(slug);
    expect(roleOf(before.databaseUrl)).toBe(loginA);
    const markBefore = await restartMark();
    // The quota admits the running pod only: the restart's new pod is refused, the rollout never finishes.
    const quota = (pods: string) => ({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'plan', namespace: namespaceFor(slug) }, spec: { hard: { pods } } });
    await objects.patch(quota('1'), undefined, undefined, undefined, undefined, PatchStrategy.MergePatch);
    try {
      const operation = await rotate();
      await until('the rollout to be waited on', async () => {
        const { body } = await stack.api.call<Operation>('GET', `/v1/operations/${operation.id}`);
        return body.steps.find((s) => s.name === 'wait for rollout')?.status === 'running' ? true : undefined;
      }, 60_000);
      // Mid-rotation both logins work: the app's running pod still uses the old one.
      const during = await secretValues();
      expect(roleOf(during.databaseUrl)).toBe(loginB);
      expect(await logsIn(before.databaseUrl)).toMatchObject({ sess: loginA, n: 10 });
      expect(await logsIn(during.databaseUrl)).toMatchObject({ sess: loginB, n: 10 });

      const ended = await stack.api.settled(operation.id, 120_000);
      expect(ended.status, JSON.stringify(ended)).toBe('rolled_back');
      expect(ended.error).toContain('did not finish within 20s');
      expect(ended.steps.filter((s) => s.status === 'done').map((s) => s.name)).toEqual([
        'check instance', 'read current login', 'write new credentials', 'restart app',
        'restore previous credentials', 'restart app with previous credentials', 'wait for previous rollout', 'disable new login',
      ]);
      expect(await secretValues()).toEqual(before);
      expect(await restartMark()).toBe(markBefore);
      expect(await logsIn(before.databaseUrl)).toMatchObject({ sess: loginA, n: 10 });
      expect(await logsIn(during.databaseUrl)).toEqual({ refused: expect.stringMatching(/^28/) });
      const { body: instance } = await stack.api.call('GET', `/v1/instances/${slug}`);
      expect(instance.status).toBe('ready');
      const { decoded, stored } = await historyOfLastRun();
      for (const secret of [passwordOf(during.databaseUrl), during.appSecret, passwordOf(before.databaseUrl), before.appSecret]) {
        expect(decoded.includes(secret)).toBe(false);
        expect(stored.includes(secret)).toBe(false);
      }
    } finally {
      await objects.patch(quota(String(plan.pods)), undefined, undefined, undefined, undefined, PatchStrategy.MergePatch);
    }
  });

  it('keeps the schedule only while SHIPYARD_ROTATE_AFTER_DAYS is set; its sweep rotates the instances that are due', async () => {
    const id = credentialRotationScheduleId(stack.config);
    const exists = () => temporal.client.schedule.getHandle(id).describe().then(() => true, () => false);
    expect(await exists()).toBe(false);
    await ensureSchedules(temporal.client, { ...stack.config, rotateAfterDays: 30 });
    const described = await temporal.client.schedule.getHandle(id).describe();
    expect(described.action).toMatchObject({ workflowType: 'credentialRotationSweep', taskQueue: stack.config.taskQueue, args: [{ olderThanDays: 30, parallelism: 4 }] });
    await ensureSchedules(temporal.client, { ...stack.config, rotateAfterDays: 30 });
    await ensureSchedules(temporal.client, { ...stack.config, rotateAfterDays: undefined });
    expect(await exists()).toBe(false);

    const before = await secretValues();
    const sweep = (n: number) =>
      temporal.client.workflow.execute('credentialRotationSweep', {
        taskQueue: stack.config.taskQueue,
        workflowId: `rotation-sweep-test-${suffix}-${n}`,
        args: [{ olderThanDays: 2, parallelism: 2, plans: [plan.name] } satisfies RotationSweepInput],
        workflowExecutionTimeout: '5m',
      }) as Promise<RotationSweepResult>;
    // Rotated a moment ago: not due.
    expect(await sweep(1)).toMatchObject({ due: 0, succeeded: 0 });
    await db.update(instances).set({ credentialsRotatedAt: new Date(Date.now() - 3 * 86_400_000) }).where(eq(instances.slug, slug));
    expect(await sweep(2)).toMatchObject({ due: 1, succeeded: 1, failed: 0 });
    const after = await secretValues();
    expect(roleOf(after.databaseUrl)).toBe(loginRolesFor(slug)[1]);
    expect(await logsIn(after.databaseUrl)).toMatchObject({ n: 10 });
    expect(await logsIn(before.databaseUrl)).toEqual({ refused: expect.stringMatching(/^28/) });
    const { body: ops } = await stack.api.call<{ items: { kind: string; status: string }[] }>('GET', `/v1/instances/${slug}/operations`);
    expect(ops.items[0]).toMatchObject({ kind: 'rotate_credentials', status: 'succeeded' });
  });

  it('a backup and a restore after a rotation keep the app on its login role', async () => {
    const before = await secretValues();
    const backedUp = await stack.api.call('POST', `/v1/instances/${slug}/backups`);
    expect(backedUp.status, JSON.stringify(backedUp.body)).toBe(202);
    expect((await stack.api.settled(backedUp.body.operation.id)).status).toBe('succeeded');
    const { body: page } = await stack.api.call<{ items: { id: string }[] }>('GET', `/v1/instances/${slug}/backups?limit=1`);
    await sql(before.databaseUrl, (app) => app`delete from notes`);
    const restored = await stack.api.call('POST', `/v1/instances/${slug}/restore`, { backupId: page.items[0]!.id });
    expect(restored.status, JSON.stringify(restored.body)).toBe(202);
    const ended = await stack.api.settled(restored.body.operation.id);
    expect(ended.status, JSON.stringify(ended)).toBe('succeeded');
    expect(await secretValues()).toEqual(before);
    expect(await logsIn(before.databaseUrl)).toMatchObject({ sess: roleOf(before.databaseUrl), usr: databaseRoleFor(slug), n: 10 });
  });

  it('a purge takes the login roles with the database', async () => {
    const gone = await stack.api.call('DELETE', `/v1/instances/${slug}?grace=0`);
    expect(gone.status, JSON.stringify(gone.body)).toBe(202);
    expect((await stack.api.settled(gone.body.operation.id)).status).toBe('succeeded');
    const tenantDb = postgres(stack.config.tenantDatabaseUrl, { max: 1, onnotice: () => {} });
    try {
      expect(await tenantDb`select rolname from pg_roles where rolname in ${tenantDb([databaseRoleFor(slug), ...loginRolesFor(slug)])}`).toEqual([]);
    } finally {
      await tenantDb.end({ timeout: 5 });
    }
  });
});
