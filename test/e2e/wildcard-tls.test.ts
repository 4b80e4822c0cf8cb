// SHIPYARD_TLS_MODE=wildcard end to end, with worker and API as real processes on the testbed's
// Kubernetes and cert-manager: one Certificate for `*.<base domain>` in the ingress controller's
// namespace (asked for at worker start, ensured and awaited by every provision), no Certificate of
// an instance's own, Ingresses that name their host without a Secret; the health check looks at the
// wildcard, and teardown and a failed provision leave it alone. The ingress namespace is this
// file's own, so its wildcard is this file's alone and goes with the namespace at the end.
import { CoreV1Api, CustomObjectsApi, NetworkingV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../activities/kube-config';
import { hostnameFor, namespaceFor } from '../../domain/instance';
import { testConfig, uniqueSuffix } from '../support/config';
import { type Stack, startStack } from '../support/stack';
import { until } from '../support/until';
import { nothingLeft, worldReader } from '../support/world';

const ingressNamespace = `ingress-wc-${uniqueSuffix()}`;
const kube = loadKubeConfig(testConfig().kubeconfig);
const core = kube.makeApiClient(CoreV1Api);
const net = kube.makeApiClient(NetworkingV1Api);
const custom = kube.makeApiClient(CustomObjectsApi);

let stack: Stack;
let world: ReturnType<typeof worldReader>;

interface CertificateView {
  metadata: { generation?: number; labels?: Record<string, string> };
  spec: { dnsNames: string[]; secretName: string; issuerRef: { name: string } };
  status?: { conditions?: { type: string; status: string }[] };
}

async function wildcard(): Promise<CertificateView | undefined> {
  try {
    return (await custom.getNamespacedCustomObject({
      group: 'cert-manager.io',
      version: 'v1',
      namespace: ingressNamespace,
      plural: 'certificates',
      name: 'shipyard-wildcard',
    })) as CertificateView;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}
const isReady = (cert: CertificateView | undefined) => !!cert?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

const check = async (slug: string) => {
  const res = await stack.api.call('POST', `/v1/instances/${slug}/health/check`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { health: string; checks: { name: string; status: string; detail?: string; critical?: boolean }[] };
};

beforeAll(async () => {
  // The ingress controller's namespace exists before Shipyard starts, as in a real cluster.
  await core.createNamespace({ body: { metadata: { name: ingressNamespace } } });
  stack = await startStack({
    SHIPYARD_TLS_MODE: 'wildcard',
    SHIPYARD_INGRESS_NAMESPACE: ingressNamespace,
    // A `fail-` version gives up soon; the others are up within seconds.
    SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '30',
    // Capacity is not what this file tests, and the shared testbed holds every other file's instances too.
    SHIPYARD_OVERCOMMIT_RATIO: '100',
  });
  world = worldReader(stack.config);
});

afterAll(async () => {
  await stack?.stop();
  await world?.close();
  // The wildcard Certificate and its Secret go with the namespace.
  await core.deleteNamespace({ name: ingressNamespace }).catch(() => undefined);
});

describe('wildcard TLS', () => {
  it('the worker asks for the wildcard certificate when it starts', async () => {
    const cert = await until('the wildcard Certificate the worker applied', wildcard, 30_000);
    expect(cert.spec).toMatchObject({ dnsNames: [`*.${stack.config.baseDomain}`], secretName: 'shipyard-wildcard-tls', issuerRef: { name: stack.config.certIssuer } });
    expect(cert.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'shipyard', 'app.kubernetes.io/component': 'wildcard-certificate' });
  });

  it('a provision serves the wildcard (no certificate of its own), its health check looks at the wildcard, and teardown leaves the wildcard', async () => {
    const slug = `wc-${uniqueSuffix()}`;
    const hostname = hostnameFor(slug, stack.config.baseDomain);
    const created = await stack.api.call('POST', '/v1/instances', { name: 'Wildcard Co', slug, plan: 'starter', ownerEmail: 'ops@wildcard.test' });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const op = await stack.api.settled(created.body.operation.id);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');
    expect(op.steps.filter((s) => s.name.includes('certificate')).map((s) => [s.name, s.status])).toEqual([
      ['request certificate', 'done'],
      ['wait for certificate', 'done'],
    ]);

    const w = await world.read(slug);
    expect(w.certificates).toEqual([]);
    expect(w.secrets).not.toContain('app-tls');
    expect(w.ingresses).toEqual(['app']);
    const ingress = await net.readNamespacedIngress({ name: 'app', namespace: namespaceFor(slug) });
    expect(ingress.spec?.tls).toEqual([{ hosts: [hostname] }]);
    expect(ingress.spec?.rules?.[0]?.host).toBe(hostname);
    expect(isReady(await wildcard())).toBe(true);

    const report = await check(slug);
    expect(report.health, JSON.stringify(report.checks)).toBe('healthy');
    expect(report.checks.find((c) => c.name === 'certificate')).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining(`wildcard ${ingressNamespace}/shipyard-wildcard (*.${stack.config.baseDomain})`),
    });
    expect(report.checks.find((c) => c.name === 'ingress')).toMatchObject({ status: 'pass' });

    // The wildcard deleted behind Shipyard's back (it is this file's alone): the check puts it back.
    await custom.deleteNamespacedCustomObject({ group: 'cert-manager.io', version: 'v1', namespace: ingressNamespace, plural: 'certificates', name: 'shipyard-wildcard' });
    const healed = await check(slug);
    expect(healed.checks.find((c) => c.name === 'certificate')).toMatchObject({ status: 'healed', detail: expect.stringMatching(/missing/) });
    expect(healed.health).toBe('healthy');
    await until('the wildcard issued again', async () => (isReady(await wildcard()) ? true : undefined), 60_000);

    // An Ingress that names a Secret is not what wildcard mode serves: critical, and healed back.
    await net.patchNamespacedIngress({
      name: 'app',
      namespace: namespaceFor(slug),
      body: [{ op: 'replace', path: '/spec/tls', value: [{ hosts: [hostname], secretName: 'app-tls' }] }],
    });
    const drifted = await check(slug);
    expect(drifted.checks.find((c) => c.name === 'ingress')).toMatchObject({ status: 'healed', detail: expect.stringMatching(/default certificate/) });
    expect((await net.readNamespacedIngress({ name: 'app', namespace: namespaceFor(slug) })).spec?.tls).toEqual([{ hosts: [hostname] }]);

    const deleted = await stack.api.call('DELETE', `/v1/instances/${slug}`);
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(202);
    const teardown = await stack.api.settled(deleted.body.operation.id);
    expect(teardown.status, JSON.stringify(teardown)).toBe('succeeded');
    expect(teardown.steps.find((s) => s.name === 'delete certificate')?.status).toBe('done');
    expect(await world.readSettled(slug)).toMatchObject(nothingLeft);
    expect(isReady(await wildcard())).toBe(true);
  });

  it('a provision that fails undoes its own steps and leaves the shared wildcard as it was', async () => {
    const before = await until('the wildcard', wildcard, 30_000);
    const slug = `wc-bad-${uniqueSuffix()}`;
    const created = await stack.api.call('POST', '/v1/instances', { name: 'Wildcard Bad', slug, plan: 'starter', ownerEmail: 'b@wildcard.test', version: 'fail-1.0.0' });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const op = await stack.api.settled(created.body.operation.id);
    expect(op.status).toBe('failed');
    expect(op.steps.find((s) => s.name === 'wait for rollout')?.status).toBe('failed');
    expect(op.steps.filter((s) => s.status === 'compensated').map((s) => s.name)).toEqual(
      expect.arrayContaining(['create namespace', 'deploy app', 'publish DNS record', 'create ingress']),
    );
    // Nothing undoes the shared certificate.
    expect(op.steps.find((s) => s.name === 'request certificate')?.status).toBe('done');
    expect(await world.readSettled(slug)).toMatchObject(nothingLeft);
    const after = await wildcard();
    expect(isReady(after)).toBe(true);
    expect(after?.metadata.generation).toBe(before.metadata.generation);
  });
});
