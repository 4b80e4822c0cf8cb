// Kubernetes activities against the testbed's real API server, controllers, kwok and cert-manager.
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CoreV1Api, KubernetesObjectApi, type KubernetesObject, type V1LimitRange, type V1NetworkPolicy, type V1Secret } from '@kubernetes/client-node';
import postgres from 'postgres';
import { loadKubeConfig } from '../../activities/kube-config';
import { createKubernetesActivities } from '../../activities/kubernetes';
import { connectCatalogue } from '../../db/client';
import { migrateCatalogue } from '../../db/migrate';
import { createTenantDatabaseActivities } from '../../activities/tenant-database';
import { inActivity } from './activity-context';
import { failure, testbedDeps, testPlan, uniqueSlug } from './testbed-deps';

const deps = testbedDeps();
// The namespace activities keep the quota rows admission reads (db/capacity.ts).
const catalogue = connectCatalogue(deps.config.databaseUrl, { max: 2 });
const k8s = createKubernetesActivities({ ...deps, db: catalogue }, { pollIntervalMs: 250 });
const db = createTenantDatabaseActivities(deps);
const objects = KubernetesObjectApi.makeApiClient(deps.kube);
const core = deps.kube.makeApiClient(CoreV1Api);

const slug = uniqueSlug('k8s');
/** Rollouts that should succeed get plenty of time; nothing here expects an unschedulable pod. */
const patience = { timeoutSeconds: 120, unschedulableGraceSeconds: 60 };
const other = uniqueSlug('k8s');
const ns = `tenant-${slug}`;

// Every activity runs inside an activity Context, as on a worker.
const run = <T>(fn: () => Promise<T>) => inActivity(fn).then((r) => r.result);

async function get(apiVersion: string, kind: string, name: string, namespace?: string): Promise<KubernetesObject | undefined> {
  try {
    return await objects.read({ apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) } });
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

/** Polls until `find` returns something (the cluster's controllers and kwok act on their own time). */
async function eventually<T>(what: string, find: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const versionOf = (obj: KubernetesObject | undefined) => obj?.metadata?.resourceVersion;

async function secretValues(namespace: string): Promise<Record<string, string>> {
  const secret = (await core.readNamespacedSecret({ name: 'app-env', namespace })) as V1Secret;
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
}

beforeAll(async () => {
  await migrateCatalogue(deps.config.databaseUrl);
  for (const s of [slug, other]) {
    await db.ensureTenantDatabase(s, { connectionLimit: testPlan.dbConnections });
    await run(() => k8s.applyNamespace(s, testPlan));
  }
});

afterAll(async () => {
  for (const s of [slug, other]) {
    await run(() => k8s.deleteNamespace(s));
    await db.dropTenantDatabase(s);
  }
  await deps.tenantDb.end();
  await catalogue.$client.end();
});

describe('namespace', () => {
  it('applies namespace, quota, limit range and network policy idempotently', async () => {
    const kinds: [string, string, string, string?][] = [
      ['v1', 'Namespace', ns],
      ['v1', 'ResourceQuota', 'plan', ns],
      ['v1', 'LimitRange', 'plan', ns],
      ['networking.k8s.io/v1', 'NetworkPolicy', 'default-deny-except-ingress', ns],
    ];
    const before = await Promise.all(kinds.map((k) => get(...k)));
    await run(() => k8s.applyNamespace(slug, testPlan));
    const after = await Promise.all(kinds.map((k) => get(...k)));
    for (const obj of before) expect(obj?.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'shipyard', 'shipyard.dev/instance': slug });
    // Re-applying the same desired state is a no-op on the server: nothing gets a new resourceVersion.
    expect(after.map(versionOf)).toEqual(before.map(versionOf));
  });

  it('sends the limit range its defaults and the network policy its peers', async () => {
    // Both fields have other names in client-node's models, and its serializer drops the API's.
    const limits = (await get('v1', 'LimitRange', 'plan', ns)) as V1LimitRange;
    expect(limits.spec?.limits[0]?._default).toBeDefined();
    const policy = (await get('networking.k8s.io/v1', 'NetworkPolicy', 'default-deny-except-ingress', ns)) as V1NetworkPolicy;
    expect(policy.spec?.ingress?.[0]?._from).toHaveLength(2);
  });

  it('refuses to apply or delete a namespace Shipyard does not own', async () => {
    const foreign = uniqueSlug('foreign');
    await objects.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `tenant-${foreign}` } });
    try {
      await failure(run(() => k8s.deleteNamespace(foreign)), 'NotOwned');
      await failure(run(() => k8s.applyNamespace(foreign, testPlan)), 'NotOwned');
      expect((await get('v1', 'Namespace', `tenant-${foreign}`))?.metadata?.labels ?? {}).not.toHaveProperty('shipyard.dev/instance');
    } finally {
      await objects.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `tenant-${foreign}` } });
    }
  });

  it('deletes a namespace and waits until it is gone; an absent one is done', async () => {
    const doomed = uniqueSlug('gone');
    await run(() => k8s.applyNamespace(doomed, testPlan));
    await run(() => k8s.deleteNamespace(doomed));
    expect(await get('v1', 'Namespace', `tenant-${doomed}`)).toBeUndefined();
    await run(() => k8s.deleteNamespace(doomed));
  });
});

describe('app secret', () => {
  it('keeps its values on repeat, and the tenant role logs in with them to its own database only', async () => {
    await run(() => k8s.writeAppSecret(slug));
    const first = await secretValues(ns);
    const firstVersion = versionOf(await get('v1', 'Secret', 'app-env', ns));
    await run(() => k8s.writeAppSecret(slug));
    expect(await secretValues(ns)).toEqual(first);
    expect(versionOf(await get('v1', 'Secret', 'app-env', ns))).toBe(firstVersion);
    await run(() => k8s.writeAppSecret(other));

    const url = new URL(first.DATABASE_URL!);
    expect(url.username).toBe(`tenant_${slug.replaceAll('-', '_')}`);
    expect(url.pathname).toBe(`/tenant_${slug.replaceAll('-', '_')}`);
    expect(first.APP_SECRET!.length).toBeGreaterThanOrEqual(32);

    const own = postgres(first.DATABASE_URL!, { max: 1, onnotice: () => undefined });
    try {
      const [row] = await own<{ db: string; role: string }[]>`select current_database() as db, current_user as role`;
      expect(row).toEqual({ db: url.username, role: url.username });
    } finally {
      await own.end();
    }

    const otherDb = `tenant_${other.replaceAll('-', '_')}`;
    const intoOther = new URL(url);
    intoOther.pathname = `/${otherDb}`;
    const trespass = postgres(intoOther.toString(), { max: 1, onnotice: () => undefined });
    try {
      // Refused by pg_hba.conf (28000) or, on a server without its rules, by the missing CONNECT (42501).
      await expect(trespass`select 1`).rejects.toMatchObject({ code: expect.stringMatching(/^(28000|42501)$/) });
    } finally {
      await trespass.end();
    }
  });

  it('restores the Secret password in Postgres if the two drifted apart', async () => {
    await run(() => k8s.writeAppSecret(slug));
    const role = `tenant_${slug.replaceAll('-', '_')}`;
    await deps.tenantDb.unsafe(`alter role "${role}" password 'drifted'`);
    await run(() => k8s.writeAppSecret(slug));
    const own = postgres((await secretValues(ns)).DATABASE_URL!, { max: 1, onnotice: () => undefined });
    try {
      expect(await own`select 1 as ok`).toEqual([{ ok: 1 }]);
    } finally {
      await own.end();
    }
  });

  it('deletes the Secret; deleting it again is done', async () => {
    await run(() => k8s.writeAppSecret(other));
    await run(() => k8s.deleteAppSecret(other));
    expect(await get('v1', 'Secret', 'app-env', `tenant-${other}`)).toBeUndefined();
    await run(() => k8s.deleteAppSecret(other));
  });
});

describe('workload', () => {
  it('applies idempotently, rolls out, reads back, scales to zero and back', async () => {
    await run(() => k8s.writeAppSecret(slug));
    await run(() => k8s.applyWorkload(slug, { plan: testPlan, version: '1.0.0', replicas: 2 }));
    const deployment = await get('apps/v1', 'Deployment', 'app', ns);
    const service = await get('v1', 'Service', 'app', ns);
    await run(() => k8s.applyWorkload(slug, { plan: testPlan, version: '1.0.0', replicas: 2 }));
    // The controller writes status (new resourceVersion) on its own; the spec must not change.
    expect((await get('apps/v1', 'Deployment', 'app', ns))?.metadata?.generation).toBe(deployment?.metadata?.generation);
    expect(versionOf(await get('v1', 'Service', 'app', ns))).toBe(versionOf(service));

    const { heartbeats } = await inActivity(() => k8s.waitForRollout(slug, { ...patience, version: '1.0.0' }));
    expect(await run(() => k8s.readWorkload(slug))).toEqual({ version: '1.0.0', replicas: 2 });
    for (const h of heartbeats as { deadlineMs?: unknown; detail?: unknown }[]) {
      expect(typeof h.deadlineMs).toBe('number');
      expect(h.detail).toMatch(/^waiting for rollout of .*:1\.0\.0 in Deployment tenant-.*\/app: /);
    }

    await run(() => k8s.scaleWorkload(slug, 0));
    await run(() => k8s.waitForRollout(slug, patience));
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `shipyard.dev/instance=${slug}` });
    expect(pods.items).toEqual([]);
    expect(await run(() => k8s.readWorkload(slug))).toEqual({ version: '1.0.0', replicas: 0 });

    await run(() => k8s.scaleWorkload(slug, 2));
    await run(() => k8s.waitForRollout(slug, patience));
    await failure(run(() => k8s.scaleWorkload(slug, 4)), 'InvalidSpec');
  });

  it('fails a rollout that never gets ready with RolloutTimeout, and a retry keeps the first deadline', async () => {
    await run(() => k8s.applyWorkload(slug, { plan: testPlan, version: 'fail-2.0.0', replicas: 2 }));
    const started = Date.now();
    // A `fail-` pod runs but never gets Ready: no early failure, the whole timeout is waited.
    const message = await failure(
      run(() => k8s.waitForRollout(slug, { timeoutSeconds: 3, unschedulableGraceSeconds: 1, version: 'fail-2.0.0' })),
      'RolloutTimeout',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
    expect(message).toContain(`${deps.config.appImage}:fail-2.0.0`);
    expect(message).toContain('updated');
    expect(message).toContain('not ready');

    // A retry after a crash: the previous attempt's heartbeat says the deadline has passed, so a
    // generous timeoutSeconds must not restart the clock.
    const retried = Date.now();
    await failure(
      inActivity(() => k8s.waitForRollout(slug, { ...patience, timeoutSeconds: 600 }), {
        heartbeatDetails: { deadlineMs: Date.now() - 1, detail: 'from the attempt before' },
        attempt: 2,
      }),
      'RolloutTimeout',
    );
    expect(Date.now() - retried).toBeLessThan(10_000);

    // Rolling back to the previous version recovers.
    await run(() => k8s.applyWorkload(slug, { plan: testPlan, version: '1.0.0', replicas: 2 }));
    await run(() => k8s.waitForRollout(slug, patience));
    expect(await run(() => k8s.readWorkload(slug))).toEqual({ version: '1.0.0', replicas: 2 });
  });

  it('fails at once when the Deployment runs another version than the operation applied', async () => {
    await run(() => k8s.applyWorkload(slug, { plan: testPlan, version: '1.0.0', replicas: 2 }));
    const started = Date.now();
    const message = await failure(run(() => k8s.waitForRollout(slug, { ...patience, version: '2.0.0' })), 'WorkloadChanged');
    expect(message).toBe(
      `Deployment ${ns}/app runs image ${deps.config.appImage}:1.0.0, expected ${deps.config.appImage}:2.0.0; ` +
        'it was changed outside this operation',
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('fails at once with ImagePullFailed when a new pod cannot pull its image', async () => {
    // kwok has no registry to fail; the pod's status is written as a kubelet that cannot pull
    // the image writes it. A `fail-` version keeps kwok from making the pod Ready first.
    const version = 'fail-3.0.0';
    const image = `${deps.config.appImage}:${version}`;
    await run(() => k8s.applyWorkload(slug, { plan: testPlan, version, replicas: 1 }));
    const pod = await eventually(`a running pod with ${image}`, async () => {
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `shipyard.dev/instance=${slug}` });
      return pods.items.find((p) => p.spec?.containers[0]?.image === image && p.status?.phase === 'Running');
    });
    pod.status!.containerStatuses = [
      {
        name: 'app',
        image,
        imageID: '',
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } },
      },
    ];
    await core.replaceNamespacedPodStatus({ name: pod.metadata!.name!, namespace: ns, body: pod });

    const started = Date.now();
    const message = await failure(run(() => k8s.waitForRollout(slug, { ...patience, version })), 'ImagePullFailed');
    expect(message).toContain(`pod ${pod.metadata!.name}: container app ImagePullBackOff: Back-off pulling image "${image}"`);
    expect(Date.now() - started).toBeLessThan(5_000);

    await run(() => k8s.applyWorkload(slug, { plan: testPlan, version: '1.0.0', replicas: 2 }));
    await run(() => k8s.waitForRollout(slug, { ...patience, version: '1.0.0' }));
  });

  it('deletes Deployment and Service; deleting them again is done', async () => {
    await run(() => k8s.applyWorkload(slug, { plan: testPlan, version: '1.0.0', replicas: 1 }));
    await run(() => k8s.deleteWorkload(slug));
    expect(await get('apps/v1', 'Deployment', 'app', ns)).toBeUndefined();
    expect(await get('v1', 'Service', 'app', ns)).toBeUndefined();
    expect(await run(() => k8s.readWorkload(slug))).toBeNull();
    await run(() => k8s.deleteWorkload(slug));
  });

  it('refuses to overwrite a Deployment Shipyard does not own', async () => {
    await objects.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'app', namespace: `tenant-${other}` },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'theirs' } },
        template: { metadata: { labels: { app: 'theirs' } }, spec: { containers: [{ name: 'c', image: 'theirs:1' }] } },
      },
    } as KubernetesObject);
    await failure(run(() => k8s.applyWorkload(other, { plan: testPlan, version: '1.0.0', replicas: 1 })), 'NotOwned');
    await failure(run(() => k8s.deleteWorkload(other)), 'NotOwned');
    await failure(run(() => k8s.scaleWorkload(other, 1)), 'NotOwned');
  });
});

describe('certificate and ingress', () => {
  it('issues a Certificate, routes an Ingress over its Secret, and removes both', async () => {
    await run(() => k8s.applyCertificate(slug));
    const cert = await get('cert-manager.io/v1', 'Certificate', 'app', ns);
    await run(() => k8s.applyCertificate(slug));
    expect(versionOf(await get('cert-manager.io/v1', 'Certificate', 'app', ns))).toBeDefined();
    expect((await get('cert-manager.io/v1', 'Certificate', 'app', ns))?.metadata?.generation).toBe(cert?.metadata?.generation);

    await run(() => k8s.waitForCertificateReady(slug));
    // cert-manager copies the Certificate's secretTemplate labels, which is what lets teardown delete it.
    const tls = await get('v1', 'Secret', 'app-tls', ns);
    expect(tls?.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'shipyard', 'shipyard.dev/instance': slug });

    await run(() => k8s.applyIngress(slug));
    const ingress = await get('networking.k8s.io/v1', 'Ingress', 'app', ns);
    await run(() => k8s.applyIngress(slug));
    expect(versionOf(await get('networking.k8s.io/v1', 'Ingress', 'app', ns))).toBe(versionOf(ingress));

    await run(() => k8s.deleteIngress(slug));
    await run(() => k8s.deleteCertificate(slug));
    expect(await get('networking.k8s.io/v1', 'Ingress', 'app', ns)).toBeUndefined();
    expect(await get('cert-manager.io/v1', 'Certificate', 'app', ns)).toBeUndefined();
    expect(await get('v1', 'Secret', 'app-tls', ns)).toBeUndefined();
    await run(() => k8s.deleteIngress(slug));
    await run(() => k8s.deleteCertificate(slug));
  });

  it('says clearly when the namespace is missing', async () => {
    await failure(run(() => k8s.applyIngress(uniqueSlug('none'))), 'MissingDependency');
  });
});

describe('connections', () => {
  it('reuses its connections to the API server instead of a TLS handshake per request', async () => {
    const connect = vi.spyOn(tls, 'connect');
    try {
      const client = loadKubeConfig(deps.config.kubeconfig).makeApiClient(CoreV1Api);
      for (let i = 0; i < 20; i++) await client.readNamespace({ name: ns });
      expect(connect).toHaveBeenCalledTimes(1);
      // The activities' client too (its connection may be open already from the tests before).
      connect.mockClear();
      for (let i = 0; i < 5; i++) await run(() => k8s.applyNamespace(slug, testPlan));
      expect(connect.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      connect.mockRestore();
    }
  });
});
