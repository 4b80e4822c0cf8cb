// charts/shipyard against the real testbed apiserver: lint, render (defaults and every option),
// server-side dry-run of what it renders, a real `helm install` (kwok runs the pods as fakes; this
// test plays the kubelet for the migration hook Job by running its command with its env), and the
// chart's RBAC proven both sufficient (a worker holding the chart ServiceAccount's token
// provisions, upgrades and tears down an instance, with the chart's admission policy in force) and
// minimal (that identity cannot read kube-system's Secrets or delete nodes; what the policy denies
// is in admission-policy.test.ts).
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  type KubernetesObject,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ensureBinary, KUBERNETES_VERSION } from '../../testbed/components/kubernetes';
import { repoRoot } from '../../testbed/runtime';
import { admissionPolicyInForce } from '../support/admission-policy';
import { shipyardFromBuild } from '../support/build';
import { uniqueSuffix } from '../support/config';
import { type Stack, startStack } from '../support/stack';

const run = promisify(execFile);
const chart = join(repoRoot, 'charts/shipyard');
const fullValues = join(chart, 'ci/full-values.yaml');
// The least an install needs (a backup bucket): given before any other values, which may override it.
const requiredValues = join(chart, 'ci/required-values.yaml');
const kubeVersion = KUBERNETES_VERSION.replace(/^v/, '');
const suffix = uniqueSuffix();
const namespace = `shipyard-chart-${suffix}`;
const release = `sy${suffix}`;

let helm: string;
let admin: KubeConfig;
let workDir: string;
let stack: Stack | undefined;

async function helmRun(...args: string[]): Promise<string> {
  const { stdout } = await run(helm, args, { env: { ...process.env }, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

function documents(text: string): KubernetesObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => !!o);
}

const template = (...args: string[]) => helmRun('template', release, chart, '--namespace', namespace, '--kube-version', kubeVersion, ...args);
const render = async (...args: string[]) => documents(await template('--values', requiredValues, ...args));
const configMapOf = (objects: KubernetesObject[]) => (objects.find((o) => o.kind === 'ConfigMap') as any).data as Record<string, string>;

beforeAll(async () => {
  helm = await ensureBinary('helm', console.log, 'helm');
  admin = new KubeConfig();
  admin.loadFromFile(process.env.KUBECONFIG!);
  workDir = mkdtempSync(join(tmpdir(), 'shipyard-chart-'));
  await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
}, 900_000);

afterAll(async () => {
  await stack?.stop();
  await helmRun('uninstall', release, '--namespace', namespace, '--wait', '--timeout', '60s').catch(() => undefined);
  await admin?.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace }).catch(() => undefined);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('charts/shipyard', () => {
  it('lints strictly, with defaults and with every option', async () => {
    await helmRun('lint', '--strict', chart, '--kube-version', kubeVersion, '--values', requiredValues);
    await helmRun('lint', '--strict', chart, '--kube-version', kubeVersion, '--values', fullValues);
  });

  it('refuses bad values at install (values.schema.json)', async () => {
    await expect(render('--set', 'worker.drainSeconds=0')).rejects.toThrow(/drainSeconds/);
    await expect(render('--set', 'api.replicaz=2')).rejects.toThrow(/replicaz/);
    await expect(render('--set', 'config.logLevel=loud')).rejects.toThrow(/logLevel/);
    await expect(render('--set', 'config.codecCorsOrigins={*}')).rejects.toThrow(/codecCorsOrigins/);
    await expect(render('--set', 'backups.bucket=Backups_2026')).rejects.toThrow(/bucket/);
    await expect(render('--set', 'backups.prefix=no-slash')).rejects.toThrow(/prefix/);
    await expect(render('--set', 'backups.parallelism=0')).rejects.toThrow(/parallelism/);
  });

  it('refuses to render without a backup bucket, saying which value to set', async () => {
    await expect(template()).rejects.toThrow(/backups\.bucket is required/);
  });

  it('gives the API and the worker the backup settings, the migration Job too', async () => {
    const defaults = await render();
    expect(configMapOf(defaults)).toMatchObject({
      SHIPYARD_BACKUP_BUCKET: 'shipyard-backups',
      SHIPYARD_BACKUP_PREFIX: 'backups/',
      SHIPYARD_DELETE_GRACE_HOURS: '72',
      SHIPYARD_FINAL_BACKUP_RETENTION_DAYS: '30',
      SHIPYARD_BACKUP_SWEEP_INTERVAL_SECONDS: '900',
      SHIPYARD_BACKUP_PARALLELISM: '4',
    });
    // Unset: Shipyard's S3 client goes to AWS.
    expect(configMapOf(defaults).SHIPYARD_S3_ENDPOINT).toBeUndefined();
    const full = await render('--values', fullValues);
    const backupEnv = {
      SHIPYARD_BACKUP_BUCKET: 'shipyard-backups.example',
      SHIPYARD_BACKUP_PREFIX: 'tenants/prod/',
      SHIPYARD_S3_ENDPOINT: 'https://s3.storage.example.com',
      SHIPYARD_DELETE_GRACE_HOURS: '0.5',
      SHIPYARD_FINAL_BACKUP_RETENTION_DAYS: '90',
      SHIPYARD_BACKUP_SWEEP_INTERVAL_SECONDS: '1800',
      SHIPYARD_BACKUP_PARALLELISM: '8',
    };
    expect(configMapOf(full)).toMatchObject(backupEnv);
    for (const deployment of full.filter((o) => o.kind === 'Deployment') as any[]) {
      expect(deployment.spec.template.spec.containers[0].envFrom, deployment.metadata.name).toContainEqual({ configMapRef: { name: `${release}-shipyard` } });
    }
    const job = full.find((o) => o.kind === 'Job') as any;
    const jobEnv = Object.fromEntries(job.spec.template.spec.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(jobEnv).toMatchObject(backupEnv);
    // An empty prefix is a value of its own (objects at the bucket's root), not "use the default".
    expect(configMapOf(await render('--set', 'backups.prefix='))).toMatchObject({ SHIPYARD_BACKUP_PREFIX: '' });
    // Whole numbers stay whole: Helm reads numbers in values files as floats, which print as 1e+06.
    const large = configMapOf(await render('--set-json', 'backups.sweepIntervalSeconds=1000000', '--set-json', 'config.rolloutTimeoutSeconds=1000000'));
    expect(large).toMatchObject({ SHIPYARD_BACKUP_SWEEP_INTERVAL_SECONDS: '1000000', SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '1000000' });
  });

  it("gives the API and the worker Temporal's TLS files from an existing Secret and an API key, by the standard variables", async () => {
    const tlsDir = '/etc/shipyard/temporal-tls';
    const deployments = (objects: KubernetesObject[]) => objects.filter((o) => o.kind === 'Deployment') as any[];
    const full = await render('--values', fullValues);
    for (const deployment of deployments(full)) {
      const pod = deployment.spec.template.spec;
      expect(pod.containers[0].env, deployment.metadata.name).toEqual([
        { name: 'TEMPORAL_TLS', value: 'true' },
        { name: 'TEMPORAL_TLS_CLIENT_CERT_PATH', value: `${tlsDir}/tls.crt` },
        { name: 'TEMPORAL_TLS_CLIENT_KEY_PATH', value: `${tlsDir}/tls.key` },
        { name: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', value: `${tlsDir}/ca.crt` },
        { name: 'TEMPORAL_TLS_SERVER_NAME', value: 'frontend.temporal.example.com' },
        { name: 'TEMPORAL_API_KEY', valueFrom: { secretKeyRef: { name: 'shipyard-temporal-api-key', key: 'TEMPORAL_API_KEY' } } },
      ]);
      expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'temporal-tls', mountPath: tlsDir, readOnly: true });
      const items = ['ca.crt', 'tls.crt', 'tls.key'].map((key) => ({ key, path: key }));
      expect(pod.volumes).toContainEqual({ name: 'temporal-tls', secret: { secretName: 'shipyard-temporal-mtls', defaultMode: 0o440, items } });
    }
    // The migration Job talks to the catalogue only: no Temporal variables (it has no Secret to read them from).
    const job = full.find((o) => o.kind === 'Job') as any;
    expect(job.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name)).not.toContain('TEMPORAL_TLS');
    // By default plain text: nothing set, nothing mounted.
    for (const deployment of deployments(await render())) {
      expect(deployment.spec.template.spec.containers[0].env).toBeUndefined();
      expect(deployment.spec.template.spec.volumes).toEqual([{ name: 'tmp', emptyDir: {} }]);
    }
    // TLS with a private CA and no client certificate.
    const caOnly = await render('--set', 'temporal.tls.enabled=true', '--set', 'temporal.tls.existingSecret=temporal-ca', '--set', 'temporal.tls.certKey=', '--set', 'temporal.tls.keyKey=');
    for (const deployment of deployments(caOnly)) {
      const pod = deployment.spec.template.spec;
      expect(pod.containers[0].env).toEqual([{ name: 'TEMPORAL_TLS', value: 'true' }, { name: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', value: `${tlsDir}/ca.crt` }]);
      expect(pod.volumes[1].secret.items).toEqual([{ key: 'ca.crt', path: 'ca.crt' }]);
    }
    await expect(render('--set', 'temporal.tls.existingSecret=temporal-mtls')).rejects.toThrow(/set temporal\.tls\.enabled=true/);
    await expect(render('--set', 'temporal.tls.enabled=true', '--set', 'temporal.tls.existingSecret=x', '--set', 'temporal.tls.keyKey=')).rejects.toThrow(/certKey and temporal\.tls\.keyKey go together/);
    await expect(render('--set', 'temporal.tls.serverName=not a name')).rejects.toThrow(/serverName/);
    await expect(render('--set', 'temporal.apiKey.secret=x')).rejects.toThrow(/secret/);
  });

  it('renders what a platform team expects: probes, a grace period beyond the drain, a hook Job, exact RBAC', async () => {
    for (const objects of [await render(), await render('--values', fullValues)]) {
      const byKind = (kind: string) => objects.filter((o) => o.kind === kind) as any[];
      const [api, worker] = ['api', 'worker'].map((c) => byKind('Deployment').find((d) => d.metadata.name.endsWith(`-${c}`)));
      expect(api.spec.template.spec.containers[0].readinessProbe.httpGet.path).toBe('/readyz');
      expect(api.spec.template.spec.containers[0].livenessProbe.httpGet.path).toBe('/healthz');
      const drain = Number(byKind('ConfigMap')[0].data.SHIPYARD_WORKER_DRAIN_SECONDS);
      expect(worker.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(drain + 10);
      for (const d of [api, worker]) {
        expect(d.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
        expect(d.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
      }
      const job = byKind('Job')[0];
      expect(job.metadata.annotations['helm.sh/hook']).toBe('pre-install,pre-upgrade');
      expect(job.spec.template.spec.containers[0].args).toEqual(['migrate']);
      const [role] = byKind('ClusterRole');
      for (const rule of role.rules) {
        for (const field of ['apiGroups', 'resources', 'verbs']) expect(rule[field], JSON.stringify(rule)).not.toContain('*');
        expect(rule.verbs).not.toEqual(expect.arrayContaining(['escalate', 'bind', 'impersonate']));
      }
      expect(byKind('NetworkPolicy')).toHaveLength(1);
    }
    const full = await render('--values', fullValues);
    // The Temporal UIs that may call the codec server (a browser reads the answer only if allowed).
    expect(configMapOf(full)).toMatchObject({
      SHIPYARD_CODEC_CORS_ORIGINS: 'https://temporal.example.com,https://cloud.temporal.io',
      SHIPYARD_CODEC_AUTH: 'api-key',
    });
    expect(full.map((o) => o.kind)).toEqual(expect.arrayContaining(['Ingress', 'ServiceMonitor', 'PodMonitor']));
    const monitor = full.find((o) => o.kind === 'ServiceMonitor') as any;
    expect(monitor.spec.endpoints.map((e: { port: string }) => e.port)).toEqual(['http', 'metrics']);
    // An existing Secret replaces the chart's: nothing secret is rendered.
    expect(full.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  it('is accepted by the apiserver (server-side dry run of every rendered object)', async () => {
    const client = KubernetesObjectApi.makeApiClient(admin);
    const monitoringServed = await client
      .list('monitoring.coreos.com/v1', 'ServiceMonitor', namespace)
      .then(() => true)
      .catch(() => false);
    for (const values of [[], ['--values', fullValues]]) {
      for (const object of await render(...values)) {
        // The testbed has no Prometheus operator; its CRDs are checked by the schema tests above only.
        if (!monitoringServed && object.apiVersion?.startsWith('monitoring.coreos.com/')) continue;
        object.metadata = { ...object.metadata, namespace: object.kind?.startsWith('Cluster') ? undefined : namespace };
        await expect(client.create(object, undefined, 'All'), `${object.kind} ${object.metadata?.name}`).resolves.toBeDefined();
      }
    }
  });

  it('installs into the cluster; its ServiceAccount can run Shipyard and nothing more', async () => {
    const env = process.env;
    const values = join(workDir, 'values.yaml');
    const taskQueue = `chart-${suffix}`;
    writeFileSync(
      values,
      JSON.stringify({
        image: { repository: 'registry.shipyard.test/shipyard', tag: 'test' },
        config: {
          temporalAddress: env.TEMPORAL_ADDRESS,
          taskQueue,
          baseDomain: env.SHIPYARD_BASE_DOMAIN,
          hostedZoneId: env.SHIPYARD_HOSTED_ZONE_ID,
          ingressNamespace: 'ingress-nginx',
          route53Endpoint: env.ROUTE53_ENDPOINT,
        },
        backups: { bucket: env.SHIPYARD_BACKUP_BUCKET, s3Endpoint: env.SHIPYARD_S3_ENDPOINT },
        secrets: {
          databaseUrl: env.DATABASE_URL,
          tenantDatabaseUrl: env.TENANT_DATABASE_URL,
          adminKey: env.SHIPYARD_ADMIN_KEY,
          encryptionKeys: env.SHIPYARD_ENCRYPTION_KEYS,
          awsAccessKeyId: env.AWS_ACCESS_KEY_ID,
          awsSecretAccessKey: env.AWS_SECRET_ACCESS_KEY,
        },
      }),
    );
    const install = helmRun('install', release, chart, '--namespace', namespace, '--values', values, '--wait', '--timeout', '180s');
    // An install that fails stops the wait for its hook pod at once.
    await Promise.race([playKubeletForMigrationJob(), install.then(() => new Promise(() => {}))]);
    await install;

    const apps = admin.makeApiClient(AppsV1Api);
    for (const component of ['api', 'worker']) {
      const deployment = await apps.readNamespacedDeployment({ name: `${release}-shipyard-${component}`, namespace });
      expect(deployment.status?.availableReplicas, component).toBe(deployment.spec?.replicas);
    }

    // The chart's identity, as a pod of the worker Deployment would hold it.
    const core = admin.makeApiClient(CoreV1Api);
    const token = await core.createNamespacedServiceAccountToken({
      name: `${release}-shipyard`,
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const cluster = admin.getCurrentCluster()!;
    const kubeconfig = join(workDir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'testbed', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } }],
        users: [{ name: 'shipyard', user: { token: token.status!.token } }],
        contexts: [{ name: 'shipyard', context: { cluster: 'testbed', user: 'shipyard' } }],
        'current-context': 'shipyard',
      }),
      { mode: 0o600 },
    );
    const asShipyard = new KubeConfig();
    asShipyard.loadFromFile(kubeconfig);

    // Minimal: what it must never do.
    const can = async (attributes: Record<string, string>) =>
      (await asShipyard.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attributes } } })).status!.allowed;
    expect(await can({ verb: 'get', resource: 'secrets', namespace: 'kube-system', name: 'anything' })).toBe(false);
    expect(await can({ verb: 'list', resource: 'secrets', namespace: 'kube-system' })).toBe(false);
    expect(await can({ verb: 'delete', resource: 'nodes', name: 'kwok-node-0' })).toBe(false);
    expect(await can({ verb: 'create', resource: 'clusterrolebindings', group: 'rbac.authorization.k8s.io' })).toBe(false);
    expect(await can({ verb: 'get', resource: 'nodes', name: 'kwok-node-0' })).toBe(true);
    const shipyardCore = asShipyard.makeApiClient(CoreV1Api);
    await expect(shipyardCore.listNamespacedSecret({ namespace: 'kube-system' })).rejects.toMatchObject({ code: 403 });
    await expect(shipyardCore.deleteNode({ name: 'kwok-node-0', dryRun: 'All' })).rejects.toMatchObject({ code: 403 });

    // The chart's admission policy is in force for this identity (it refuses a change to the
    // release's own namespace, which is not Shipyard's), so the life cycle below runs under it.
    await admissionPolicyInForce(asShipyard, `${namespace}-${release}-shipyard`, namespace);

    // Sufficient: a worker with only this identity runs a whole life cycle.
    stack = await startStack({ KUBECONFIG: kubeconfig, SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '30' });
    const slug = `rbac-${uniqueSuffix()}`;
    const created = await stack.api.call('POST', '/v1/instances', { name: 'Least Privilege', slug, plan: 'starter', ownerEmail: 'l@rbac.test', version: '1.0.0' });
    expect(created.status).toBe(202);
    let op = await stack.api.settled(created.body.operation.id);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');
    const upgraded = await stack.api.call('POST', `/v1/instances/${slug}/upgrade`, { version: '1.1.0' });
    expect(upgraded.status).toBe(202);
    op = await stack.api.settled(upgraded.body.operation.id);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');
    const deleted = await stack.api.call('DELETE', `/v1/instances/${slug}`);
    op = await stack.api.settled(deleted.body.operation.id);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');
  });
});

/**
 * kwok runs pods without containers and never completes them, so helm would wait for the
 * migration hook forever. This does what a kubelet would: runs the Job's container (its args
 * and env, Secret references resolved) as the `shipyard` command, and reports the pod
 * Succeeded only if that exits 0.
 */
async function playKubeletForMigrationJob(): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  const selector = 'app.kubernetes.io/component=migrate';
  let pod: V1Pod | undefined;
  const deadline = Date.now() + 120_000;
  while (!pod) {
    if (Date.now() > deadline) throw new Error('the migration hook Job made no pod');
    pod = (await core.listNamespacedPod({ namespace, labelSelector: selector })).items.find((p) => p.status?.phase === 'Running');
    if (!pod) await new Promise((r) => setTimeout(r, 250));
  }
  const container = pod.spec!.containers[0]!;
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (!source.secretRef) continue;
    const secret = await core.readNamespacedSecret({ name: source.secretRef.name!, namespace });
    for (const [key, value] of Object.entries(secret.data ?? {})) env[key] = Buffer.from(value, 'base64').toString('utf8');
  }
  for (const variable of container.env ?? []) env[variable.name] = variable.value ?? '';
  const [program, ...args] = shipyardFromBuild.command;
  const migrated = spawnSync(program!, [...args, ...container.args!], {
    cwd: shipyardFromBuild.cwd,
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
  expect(migrated.status, migrated.stderr).toBe(0);
  const now = new Date().toISOString();
  // A JSON patch (the client's default for patches): the status a kubelet reports for a container that exited 0.
  const terminated = { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now };
  await core.patchNamespacedPodStatus({
    name: pod.metadata!.name!,
    namespace,
    body: [
      { op: 'replace', path: '/status/phase', value: 'Succeeded' },
      {
        op: 'replace',
        path: '/status/containerStatuses',
        value: [{ name: container.name, image: container.image, imageID: '', ready: false, restartCount: 0, started: false, state: { terminated } }],
      },
      { op: 'replace', path: '/status/conditions', value: [{ type: 'Ready', status: 'False', reason: 'PodCompleted', lastTransitionTime: now }] },
    ],
  });
}
