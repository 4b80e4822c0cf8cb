// The wildcard certificate's activities (SHIPYARD_TLS_MODE=wildcard) against the testbed's real
// API server and cert-manager. Each test uses an ingress namespace of its own: the wildcard's name is
// fixed, and other files' stacks in wildcard mode keep theirs in namespaces of their own.
import { X509Certificate } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { CoreV1Api, KubernetesObjectApi, type KubernetesObject, type V1Secret } from '@kubernetes/client-node';
import { createKubernetesActivities } from '../../activities/kubernetes';
import { wildcardCertificate } from '../../activities/wildcard-certificate';
import { connectCatalogue } from '../../db/client';
import { hostnameFor } from '../../domain/instance';
import { inActivity } from './activity-context';
import { failure, testbedDeps, uniqueSlug } from './testbed-deps';

const deps = testbedDeps();
const catalogue = connectCatalogue(deps.config.databaseUrl, { max: 1 });
const objects = KubernetesObjectApi.makeApiClient(deps.kube);
const core = deps.kube.makeApiClient(CoreV1Api);
const namespaces: string[] = [];

const run = <T>(fn: () => Promise<T>) => inActivity(fn).then((r) => r.result);

/** Kubernetes activities whose ingress namespace is a new one of this test's (created unless `create` is false). */
async function inIngressNamespace(create = true) {
  const ingressNamespace = uniqueSlug('ingress-wc');
  if (create) {
    await core.createNamespace({ body: { metadata: { name: ingressNamespace } } });
    namespaces.push(ingressNamespace);
  }
  const config = { ...deps.config, tlsMode: 'wildcard' as const, ingressNamespace };
  return { ingressNamespace, config, k8s: createKubernetesActivities({ ...deps, config, db: catalogue }, { pollIntervalMs: 250 }) };
}

async function get<T extends KubernetesObject>(apiVersion: string, kind: string, name: string, namespace: string): Promise<T | undefined> {
  try {
    return (await objects.read({ apiVersion, kind, metadata: { name, namespace } })) as T;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

afterAll(async () => {
  for (const name of namespaces) await core.deleteNamespace({ name }).catch(() => undefined);
  await deps.tenantDb.end();
  await catalogue.$client.end();
});

describe('wildcard certificate', () => {
  it('is applied idempotently, becomes Ready, and its Secret holds a certificate for every instance host', async () => {
    const { ingressNamespace, config, k8s } = await inIngressNamespace();
    await run(() => k8s.applyWildcardCertificate());
    const first = await get('cert-manager.io/v1', 'Certificate', 'shipyard-wildcard', ingressNamespace);
    expect(first?.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'shipyard', 'app.kubernetes.io/component': 'wildcard-certificate' });
    expect(first?.metadata?.labels).not.toHaveProperty('shipyard.dev/instance');
    // Every provision applies it again: nothing changes.
    await run(() => k8s.applyWildcardCertificate());
    await run(() => wildcardCertificate(deps.kube, config).ensure());
    expect((await get('cert-manager.io/v1', 'Certificate', 'shipyard-wildcard', ingressNamespace))?.metadata?.generation).toBe(first?.metadata?.generation);

    await run(() => k8s.waitForWildcardCertificateReady());
    const secret = await get<V1Secret>('v1', 'Secret', 'shipyard-wildcard-tls', ingressNamespace);
    expect(secret?.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'shipyard', 'app.kubernetes.io/component': 'wildcard-certificate' });
    const issued = new X509Certificate(Buffer.from(secret!.data!['tls.crt']!, 'base64'));
    expect(issued.subjectAltName).toBe(`DNS:*.${config.baseDomain}`);
    expect(issued.checkHost(hostnameFor(uniqueSlug('any'), config.baseDomain))).toBeTruthy();
    // One label deep only, as the base domain itself: neither is an instance's host.
    expect(issued.checkHost(`a.b.${config.baseDomain}`)).toBeUndefined();
  });

  it("says which setting is wrong when the ingress controller's namespace does not exist", async () => {
    const { k8s } = await inIngressNamespace(false);
    expect(await failure(run(() => k8s.applyWildcardCertificate()), 'MissingDependency')).toMatch(/SHIPYARD_INGRESS_NAMESPACE/);
    await failure(run(() => k8s.waitForWildcardCertificateReady()), 'MissingDependency');
  });

  it("refuses a Certificate of someone else's at its name, and leaves it as it was", async () => {
    const { ingressNamespace, k8s } = await inIngressNamespace();
    await objects.create({
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'shipyard-wildcard', namespace: ingressNamespace, labels: { team: 'edge' } },
      spec: { secretName: 'theirs', dnsNames: ['theirs.example.test'], issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: deps.config.certIssuer } },
    } as KubernetesObject);
    await failure(run(() => k8s.applyWildcardCertificate()), 'NotOwned');
    await failure(run(() => k8s.waitForWildcardCertificateReady()), 'NotOwned');
    const theirs = await get<KubernetesObject & { spec: { dnsNames: string[] } }>('cert-manager.io/v1', 'Certificate', 'shipyard-wildcard', ingressNamespace);
    expect(theirs?.spec.dnsNames).toEqual(['theirs.example.test']);
    expect(theirs?.metadata?.labels).toEqual({ team: 'edge' });
  });
});
