// The chart's ValidatingAdmissionPolicy against the testbed's real apiserver: its ServiceAccount,
// ClusterRole and policy, rendered by helm and created in a namespace of this run, then requests
// made with a token of that ServiceAccount. Outside namespaces labelled
// app.kubernetes.io/managed-by=shipyard the apiserver refuses what the ClusterRole allows; inside
// them the real Kubernetes activities provision, upgrade and tear down an instance as before.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from '@kubernetes/client-node';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { createKubernetesActivities } from '../../activities/kubernetes';
import { createTenantDatabaseActivities } from '../../activities/tenant-database';
import { forgetNamespaceQuota } from '../../db/capacity';
import { connectCatalogue } from '../../db/client';
import { migrateCatalogue } from '../../db/migrate';
import { ensureBinary, KUBERNETES_VERSION } from '../../testbed/components/kubernetes';
import { repoRoot } from '../../testbed/runtime';
import { inActivity } from '../activities/activity-context';
import { testPlan } from '../activities/testbed-deps';
import { admissionPolicyInForce, kubeMessage } from '../support/admission-policy';
import { testConfig, uniqueSuffix } from '../support/config';

const exec = promisify(execFile);
const chart = `${repoRoot}/charts/shipyard`;
const requiredValues = `${chart}/ci/required-values.yaml`;
const kubeVersion = KUBERNETES_VERSION.replace(/^v/, '');
const suffix = uniqueSuffix();
// The release's namespace, and one more that is not Shipyard's: neither is labelled managed-by=shipyard.
const namespace = `shipyard-vap-${suffix}`;
const foreign = `shipyard-vap-foreign-${suffix}`;
const release = `vap${suffix}`;
const fullName = `${release}-shipyard`;
const policyName = `${namespace}-${fullName}`;
// A Deployment this run makes in kube-system, for the ServiceAccount to try to delete.
const probe = `shipyard-vap-probe-${suffix}`;
const slug = `vap-${suffix}`;
// With TLS mode `wildcard` the shared Certificate sits in the ingress controller's namespace: here, `foreign`.
const installValues = ['--set', `config.ingressNamespace=${foreign}`];

const config = testConfig({ SHIPYARD_TASK_QUEUE: `vap-${suffix}` });
const catalogue = connectCatalogue(config.databaseUrl, { max: 2 });
const tenantDb = postgres(config.tenantDatabaseUrl, { max: 2, onnotice: () => undefined });
const tenant = createTenantDatabaseActivities({ tenantDb });

let helm: string;
let admin: KubeConfig;
let asShipyard: KubeConfig;
let installed: KubernetesObject[] = [];

const isClusterScoped = (o: KubernetesObject) => o.kind!.startsWith('Cluster') || o.kind!.startsWith('ValidatingAdmissionPolicy');
const run = <T>(fn: () => Promise<T>) => inActivity(fn).then((r) => r.result);

async function render(namespaceName: string, ...args: string[]): Promise<KubernetesObject[]> {
  const { stdout } = await exec(
    helm,
    ['template', release, chart, '--namespace', namespaceName, '--kube-version', kubeVersion, '--values', requiredValues, ...args],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => !!o);
}

const only = (objects: KubernetesObject[], kind: string) => objects.filter((o) => o.kind === kind) as any[];

/** Expects the apiserver to refuse `request` by the chart's policy (not by RBAC); returns its message. */
async function deniedByPolicy(request: Promise<unknown>): Promise<string> {
  let error: unknown;
  try {
    await request;
  } catch (err) {
    error = err;
  }
  if (!error) throw new Error('the apiserver allowed a request the admission policy should deny');
  const message = kubeMessage(error);
  expect(message).toContain(`ValidatingAdmissionPolicy '${policyName}'`);
  expect((error as { code?: number }).code, message).toBe(403);
  return message;
}

async function exists(read: () => Promise<unknown>): Promise<boolean> {
  return read().then(
    () => true,
    (err: { code?: number }) => {
      if (err.code === 404) return false;
      throw err;
    },
  );
}

beforeAll(async () => {
  helm = await ensureBinary('helm', console.log, 'helm');
  admin = new KubeConfig();
  admin.loadFromFile(process.env.KUBECONFIG!);
  await migrateCatalogue(config.databaseUrl);
  const core = admin.makeApiClient(CoreV1Api);
  for (const name of [namespace, foreign]) await core.createNamespace({ body: { metadata: { name } } });

  // The chart's identity and what confines it, as `helm install` would create them.
  const objects = KubernetesObjectApi.makeApiClient(admin);
  installed = await render(
    namespace,
    ...installValues,
    ...['serviceaccount', 'rbac', 'admission-policy'].flatMap((t) => ['--show-only', `templates/${t}.yaml`]),
  );
  for (const object of installed) {
    if (!isClusterScoped(object)) object.metadata = { ...object.metadata, namespace };
    await objects.create(object);
  }

  // A token of that ServiceAccount (TokenRequest), as its pods get one.
  const token = await core.createNamespacedServiceAccountToken({
    name: fullName,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = admin.getCurrentCluster()!;
  asShipyard = new KubeConfig();
  asShipyard.loadFromOptions({
    clusters: [{ name: 'testbed', server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
    users: [{ name: 'shipyard', token: token.status!.token }],
    contexts: [{ name: 'shipyard', cluster: 'testbed', user: 'shipyard' }],
    currentContext: 'shipyard',
  });
  await admissionPolicyInForce(asShipyard, policyName, foreign);
}, 900_000);

afterAll(async () => {
  if (admin) {
    const objects = KubernetesObjectApi.makeApiClient(admin);
    const gone = (p: Promise<unknown>) => p.catch(() => undefined);
    await gone(admin.makeApiClient(AppsV1Api).deleteNamespacedDeployment({ name: probe, namespace: 'kube-system' }));
    await gone(admin.makeApiClient(CoreV1Api).deleteNamespace({ name: `tenant-${slug}` }));
    // The binding before the policy, the policy before the identity it confines.
    for (const object of [...installed].reverse()) await gone(objects.delete(object));
    for (const name of [namespace, foreign]) await gone(admin.makeApiClient(CoreV1Api).deleteNamespace({ name }));
  }
  await forgetNamespaceQuota(catalogue, config.taskQueue, `tenant-${slug}`).catch(() => undefined);
  await tenant.dropTenantDatabase(slug).catch(() => undefined);
  await tenantDb.end();
  await catalogue.$client.end();
});

describe('the chart as rendered', () => {
  it('ships the policy and its binding by default, and leaves them out when turned off', async () => {
    const objects = await render(namespace);
    const [policy] = only(objects, 'ValidatingAdmissionPolicy');
    const [binding] = only(objects, 'ValidatingAdmissionPolicyBinding');
    expect(policy.apiVersion).toBe('admissionregistration.k8s.io/v1');
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(policy.spec.matchConditions).toEqual([
      { name: 'shipyard-service-account', expression: `request.userInfo.username == 'system:serviceaccount:${namespace}:${fullName}'` },
    ]);
    expect(binding.spec).toEqual({ policyName: policy.metadata.name, validationActions: ['Deny'] });
    // A ServiceAccount of another name is the one confined.
    const [custom] = only(await render(namespace, '--set', 'serviceAccount.name=deployer'), 'ValidatingAdmissionPolicy');
    expect(custom.spec.matchConditions[0].expression).toContain(`'system:serviceaccount:${namespace}:deployer'`);

    const off = await render(namespace, '--set', 'admissionPolicy.enabled=false');
    expect(off.filter((o) => o.kind!.startsWith('ValidatingAdmissionPolicy'))).toEqual([]);
    await expect(render(namespace, '--set', 'admissionPolicy.enabled=yes')).rejects.toThrow(/admissionPolicy/);
    await expect(render(namespace, '--set', 'admissionPolicy.enable=true')).rejects.toThrow(/enable/);
    // Before 1.30 the API is not GA: the install stops, saying how to go on without the policy.
    await expect(render(namespace, '--kube-version', '1.29.4')).rejects.toThrow(/admissionPolicy\.enabled=false/);
    expect(only(await render(namespace, '--kube-version', '1.29.4', '--set', 'admissionPolicy.enabled=false'), 'ClusterRole')).toHaveLength(1);
  });

  it('watches every resource the ClusterRole lets Shipyard write, for every write', async () => {
    const objects = await render(namespace);
    const [role] = only(objects, 'ClusterRole');
    const [policy] = only(objects, 'ValidatingAdmissionPolicy');
    const writes = ['create', 'update', 'patch', 'delete', 'deletecollection'];
    const watched = (group: string, resource: string) =>
      policy.spec.matchConstraints.resourceRules.some(
        (r: { apiGroups: string[]; resources: string[]; operations: string[] }) =>
          r.apiGroups.includes(group) && r.resources.includes(resource) && ['CREATE', 'UPDATE', 'DELETE'].every((op) => r.operations.includes(op)),
      );
    const written = role.rules.filter((rule: { verbs: string[] }) => rule.verbs.some((verb) => writes.includes(verb)));
    expect(written.length).toBeGreaterThan(0);
    for (const rule of written) {
      for (const group of rule.apiGroups) for (const resource of rule.resources) expect(watched(group, resource), `${group}/${resource}`).toBe(true);
    }
  });

  it('names its cluster-scoped objects after the release and its namespace, so two releases of one name do not collide', async () => {
    const clusterNames = async (ns: string) =>
      (await render(ns))
        .filter(isClusterScoped)
        .map((o) => `${o.kind}/${o.metadata!.name}`)
        .sort();
    const [a, b] = await Promise.all([clusterNames('team-a'), clusterNames('team-b')]);
    expect(a).toEqual(
      ['ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].map((kind) => `${kind}/team-a-${fullName}`),
    );
    expect(b.filter((name) => a.includes(name))).toEqual([]);
    const objects = await render('team-a');
    expect(only(objects, 'ClusterRoleBinding')[0].roleRef.name).toBe(`team-a-${fullName}`);
    expect(only(objects, 'ClusterRoleBinding')[0].subjects).toEqual([{ kind: 'ServiceAccount', name: fullName, namespace: 'team-a' }]);
  });
});

describe("the apiserver, with the chart's ServiceAccount", () => {
  it('serves admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy and its binding', async () => {
    const resources = await admin.makeApiClient(AdmissionregistrationV1Api).getAPIResources();
    expect(resources.resources.map((r) => r.name)).toEqual(expect.arrayContaining(['validatingadmissionpolicies', 'validatingadmissionpolicybindings']));
  });

  it('denies writes outside Shipyard namespaces that the ClusterRole allows', async () => {
    // RBAC alone would allow each of these (the verbs are cluster-wide).
    const can = async (attributes: Record<string, string>) =>
      (await asShipyard.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attributes } } })).status!.allowed;
    expect(await can({ verb: 'delete', group: 'apps', resource: 'deployments', namespace: 'kube-system', name: probe })).toBe(true);
    expect(await can({ verb: 'patch', resource: 'namespaces', name: foreign })).toBe(true);
    expect(await can({ verb: 'create', resource: 'secrets', namespace: 'kube-system' })).toBe(true);

    const adminApps = admin.makeApiClient(AppsV1Api);
    const labels = { 'app.kubernetes.io/name': probe };
    await adminApps.createNamespacedDeployment({
      namespace: 'kube-system',
      body: {
        metadata: { name: probe, labels },
        spec: {
          replicas: 0,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'probe', image: 'registry.shipyard.test/probe:1' }] } },
        },
      },
    });
    const apps = asShipyard.makeApiClient(AppsV1Api);
    const message = await deniedByPolicy(apps.deleteNamespacedDeployment({ name: probe, namespace: 'kube-system' }));
    expect(message).toMatch(/only in namespaces labelled app\.kubernetes\.io\/managed-by=shipyard; namespace kube-system is not/);
    expect(await exists(() => adminApps.readNamespacedDeployment({ name: probe, namespace: 'kube-system' }))).toBe(true);
    await deniedByPolicy(
      apps.createNamespacedDeployment({ namespace: 'kube-system', body: { metadata: { name: `${probe}-2` }, spec: (await adminApps.readNamespacedDeployment({ name: probe, namespace: 'kube-system' })).spec! } }),
    );
    const core = asShipyard.makeApiClient(CoreV1Api);
    await deniedByPolicy(core.createNamespacedSecret({ namespace: 'kube-system', body: { metadata: { name: 'app-env' }, stringData: { a: 'b' } } }));

    const objects = KubernetesObjectApi.makeApiClient(asShipyard);
    const patchNamespace = (name: string, labelsToSet: Record<string, string>) =>
      objects.patch({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: labelsToSet } }, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch);
    // An unlabelled namespace can be neither changed nor taken over by giving it the label.
    expect(await deniedByPolicy(patchNamespace(foreign, { team: 'shipyard' }))).toMatch(/namespace shipyard-vap-foreign-\w+ is not/);
    await deniedByPolicy(patchNamespace(foreign, { 'app.kubernetes.io/managed-by': 'shipyard' }));
    await deniedByPolicy(patchNamespace('kube-system', { 'app.kubernetes.io/managed-by': 'shipyard' }));
    await deniedByPolicy(core.deleteNamespace({ name: foreign }));
    await deniedByPolicy(core.createNamespace({ body: { metadata: { name: `tenant-unlabelled-${suffix}` } } }));
    const foreignNow = await admin.makeApiClient(CoreV1Api).readNamespace({ name: foreign });
    expect(foreignNow.metadata?.labels ?? {}).not.toHaveProperty('app.kubernetes.io/managed-by');
    expect(foreignNow.metadata?.deletionTimestamp).toBeUndefined();

    // The one object allowed outside: the wildcard Certificate, by its name, in the ingress namespace.
    const certificate = (name: string) => ({
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name, namespace: foreign },
      spec: { secretName: `${name}-tls`, dnsNames: [`*.${config.baseDomain}`], issuerRef: { name: config.certIssuer, kind: 'ClusterIssuer' } },
    });
    await expect(objects.create(certificate('shipyard-wildcard'), undefined, 'All')).resolves.toBeDefined();
    await deniedByPolicy(objects.create(certificate('another'), undefined, 'All'));
  });

  it('lets it provision, upgrade and tear down an instance with the real Kubernetes activities', async () => {
    const k8s = createKubernetesActivities({ config, kube: asShipyard, tenantDb, db: catalogue }, { pollIntervalMs: 250 });
    const patience = { timeoutSeconds: 120, unschedulableGraceSeconds: 60 };
    await tenant.ensureTenantDatabase(slug, { connectionLimit: testPlan.dbConnections });

    // Provision: the namespace with the label, then everything inside it.
    await run(() => k8s.applyNamespace(slug, testPlan));
    await run(() => k8s.writeAppSecret(slug));
    await run(() => k8s.applyWorkload(slug, { plan: testPlan, version: '1.0.0', replicas: 1 }));
    await run(() => k8s.waitForRollout(slug, { ...patience, version: '1.0.0' }));
    await run(() => k8s.applyCertificate(slug));
    await run(() => k8s.waitForCertificateReady(slug));
    await run(() => k8s.applyIngress(slug));
    // Applied again (a retried step), each one is an update of what is there.
    await run(() => k8s.applyNamespace(slug, testPlan));

    // Upgrade, and a scale (a merge patch rather than an apply).
    await run(() => k8s.applyWorkload(slug, { plan: testPlan, version: '1.1.0', replicas: 1 }));
    await run(() => k8s.waitForRollout(slug, { ...patience, version: '1.1.0' }));
    await run(() => k8s.scaleWorkload(slug, 2));
    await run(() => k8s.waitForRollout(slug, { ...patience, version: '1.1.0' }));
    expect(await run(() => k8s.readWorkload(slug))).toEqual({ version: '1.1.0', replicas: 2 });

    // Teardown; a second run finds nothing left and is done.
    for (let i = 0; i < 2; i++) {
      await run(() => k8s.deleteIngress(slug));
      await run(() => k8s.deleteCertificate(slug));
      await run(() => k8s.deleteWorkload(slug));
      await run(() => k8s.deleteAppSecret(slug));
      await run(() => k8s.deleteNamespace(slug));
    }
    expect(await exists(() => admin.makeApiClient(CoreV1Api).readNamespace({ name: `tenant-${slug}` }))).toBe(false);
    await tenant.dropTenantDatabase(slug);
  });
});
