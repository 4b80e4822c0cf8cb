// The desired Kubernetes state is a pure function of slug, plan, version and config: checked
// here without any cluster.
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { Plan } from '../../domain/instance';
import {
  appSecretManifest,
  certificateManifest,
  ingressManifest,
  namespaceManifests,
  parseQuantity,
  podResources,
  tenantDatabaseUrl,
  versionOfImage,
  wildcardCertificateManifest,
  workloadManifests,
} from '../../activities/manifests';
import { noBackups } from '../support/catalogue-rows';

const plan: Plan = { name: 'standard', cpu: '2', memory: '4Gi', pods: 4, replicas: 2, pricePerHourCents: 10, suspendedPricePerHourCents: 1, dbConnections: 5, ...noBackups };
const config = {
  appImage: 'registry.shipyard.test/demo-app',
  baseDomain: 'apps.shipyard.test',
  ingressNamespace: 'ingress-nginx',
  ingressClass: 'nginx',
  certIssuer: 'shipyard-ca',
};
const owner = { 'app.kubernetes.io/managed-by': 'shipyard', 'shipyard.dev/instance': 'acme' };

// Loose views of the manifests, enough to look inside without the client's model types.
type Loose = Record<string, any>;

function nonRetryable(fn: () => unknown, type: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe(type);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    return;
  }
  throw new Error('expected a non-retryable failure');
}

describe('quantities', () => {
  it('parses decimal, binary and exponent forms', () => {
    expect(parseQuantity('500m')).toBeCloseTo(0.5);
    expect(parseQuantity('2')).toBe(2);
    expect(parseQuantity('1.5')).toBe(1.5);
    expect(parseQuantity('4Gi')).toBe(4 * 2 ** 30);
    expect(parseQuantity('512Mi')).toBe(512 * 2 ** 20);
    expect(parseQuantity('1G')).toBe(1e9);
    expect(parseQuantity('1e3')).toBe(1000);
    nonRetryable(() => parseQuantity('lots'), 'InvalidSpec');
    nonRetryable(() => parseQuantity('1Gb'), 'InvalidSpec');
  });

  it('gives each pod an equal, rounded-down share of the plan', () => {
    expect(podResources(plan)).toEqual({ cpu: '500m', memory: '1024Mi' });
    expect(podResources({ ...plan, cpu: '1', memory: '1Gi', pods: 3 })).toEqual({ cpu: '333m', memory: '341Mi' });
    nonRetryable(() => podResources({ ...plan, pods: 0 }), 'InvalidSpec');
    nonRetryable(() => podResources({ ...plan, cpu: '1m', pods: 2 }), 'InvalidSpec');
  });
});

describe('namespace manifests', () => {
  const [ns, quota, limits, policy] = namespaceManifests('acme', plan, config) as Loose[];

  it('names and labels everything for the instance', () => {
    expect(ns).toMatchObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenant-acme', labels: owner } });
    for (const obj of [quota, limits, policy]) {
      expect(obj!.metadata).toMatchObject({ namespace: 'tenant-acme', labels: owner });
    }
  });

  it('caps the namespace at the plan', () => {
    expect(quota!.spec.hard).toEqual({
      pods: '4',
      'requests.cpu': '2',
      'limits.cpu': '2',
      'requests.memory': '4Gi',
      'limits.memory': '4Gi',
    });
    // `_default` and `_from` (below) are client-node's names for the API's `default` and `from`.
    expect(limits!.spec.limits[0]).toMatchObject({ type: 'Container', _default: { cpu: '500m', memory: '1024Mi' } });
  });

  it('denies ingress except from the ingress controller namespace and the namespace itself', () => {
    expect(policy!.spec).toEqual({
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [
        {
          _from: [
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
            { podSelector: {} },
          ],
        },
      ],
    });
  });
});

describe('workload manifests', () => {
  it('runs the versioned image with the secret as environment and resources that fit the quota', () => {
    const [deployment, service] = workloadManifests('acme', { plan, version: '1.2.3', replicas: 2 }, config) as Loose[];
    expect(deployment!.metadata).toMatchObject({ name: 'app', namespace: 'tenant-acme', labels: owner });
    expect(deployment!.spec.replicas).toBe(2);
    const container = deployment!.spec.template.spec.containers[0];
    expect(container.image).toBe('registry.shipyard.test/demo-app:1.2.3');
    expect(container.envFrom).toEqual([{ secretRef: { name: 'app-env' } }]);
    expect(container.resources).toEqual({
      requests: { cpu: '500m', memory: '1024Mi' },
      limits: { cpu: '500m', memory: '1024Mi' },
    });
    // The selector must not depend on the version, or an upgrade would need a new Deployment.
    expect(deployment!.spec.selector.matchLabels).toEqual({ 'shipyard.dev/instance': 'acme', 'app.kubernetes.io/name': 'app' });
    expect(deployment!.spec.template.metadata.labels).toMatchObject(deployment!.spec.selector.matchLabels);
    expect(deployment!.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    expect(service!.spec.selector).toEqual(deployment!.spec.selector.matchLabels);
    expect(service!.metadata.labels).toEqual(owner);
  });

  it('replaces pods in place when the quota leaves no room for a surge pod', () => {
    const [deployment] = workloadManifests('acme', { plan, version: '1', replicas: 4 }, config) as Loose[];
    expect(deployment!.spec.strategy.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: 1 });
  });

  it('rejects versions that are no image tag and replica counts beyond the plan', () => {
    nonRetryable(() => workloadManifests('acme', { plan, version: 'bad/tag', replicas: 1 }, config), 'InvalidSpec');
    nonRetryable(() => workloadManifests('acme', { plan, version: '1', replicas: 5 }, config), 'InvalidSpec');
    nonRetryable(() => workloadManifests('acme', { plan, version: '1', replicas: -1 }, config), 'InvalidSpec');
  });

  it('reads the version back from an image reference', () => {
    expect(versionOfImage('registry.shipyard.test/demo-app:1.2.3')).toBe('1.2.3');
    expect(versionOfImage('localhost:5000/demo-app:fail-2')).toBe('fail-2');
    expect(versionOfImage('localhost:5000/demo-app')).toBeUndefined();
    expect(versionOfImage('demo-app:1.0@sha256:abc')).toBe('1.0');
  });
});

describe('secret, certificate and ingress', () => {
  it('builds the tenant connection string from the admin URL', () => {
    expect(tenantDatabaseUrl('postgres://admin:pw@127.0.0.1:5433/postgres?sslmode=disable', 'tenant_acme', 'tenant_acme', 'p/w+='))
      .toBe('postgres://tenant_acme:p%2Fw%2B%3D@127.0.0.1:5433/tenant_acme?sslmode=disable');
  });

  it('passes a tenant only host, port, its database and sslmode from the admin URL', () => {
    const admin =
      'postgresql://shipyard_admin:admin%20pw@db.internal:6432/control?application_name=shipyard' +
      '&options=-c%20role%3Dshipyard_admin&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&user=shipyard_admin&host=%2Ftmp';
    const url = new URL(tenantDatabaseUrl(admin, 'tenant_acme', 'tenant_acme', 'pw'));
    expect(url.protocol).toBe('postgresql:');
    expect(url.host).toBe('db.internal:6432');
    expect(url.username).toBe('tenant_acme');
    expect(url.password).toBe('pw');
    expect(url.pathname).toBe('/tenant_acme');
    expect([...url.searchParams]).toEqual([['sslmode', 'verify-full']]);
    expect(url.toString()).not.toMatch(/shipyard_admin|admin%20pw|control|sslrootcert|options|application_name/);
    expect(tenantDatabaseUrl('postgres://a:b@db:5432/x?connect_timeout=3', 'tenant_acme', 'tenant_acme', 'pw')).toBe(
      'postgres://tenant_acme:pw@db:5432/tenant_acme',
    );
  });

  it('stores secret values base64-encoded', () => {
    const secret = appSecretManifest('acme', { databaseUrl: 'postgres://x', appSecret: 's3cret' }) as Loose;
    expect(secret.metadata).toMatchObject({ name: 'app-env', namespace: 'tenant-acme', labels: owner });
    expect(Buffer.from(secret.data.DATABASE_URL, 'base64').toString()).toBe('postgres://x');
    expect(Buffer.from(secret.data.APP_SECRET, 'base64').toString()).toBe('s3cret');
  });

  it('asks the cluster issuer for the hostname with a P-256 key, and labels the issued Secret as ours', () => {
    const cert = certificateManifest('acme', config) as Loose;
    expect(cert).toMatchObject({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate' });
    expect(cert.spec).toEqual({
      secretName: 'app-tls',
      dnsNames: ['acme.apps.shipyard.test'],
      issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'shipyard-ca' },
      privateKey: { algorithm: 'ECDSA', size: 256 },
      secretTemplate: { labels: owner },
    });
  });

  it('routes the hostname to the app over TLS', () => {
    const ingress = ingressManifest('acme', config) as Loose;
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.spec.tls).toEqual([{ hosts: ['acme.apps.shipyard.test'], secretName: 'app-tls' }]);
    expect(ingress.spec.rules[0].host).toBe('acme.apps.shipyard.test');
    expect(ingress.spec.rules[0].http.paths[0].backend).toEqual({ service: { name: 'app', port: { name: 'http' } } });
  });
});

describe('wildcard TLS (SHIPYARD_TLS_MODE=wildcard)', () => {
  it('asks the cluster issuer for *.<base domain> once, in the ingress namespace, under a fixed name and its own ownership mark', () => {
    const cert = wildcardCertificateManifest(config) as Loose;
    const ours = { 'app.kubernetes.io/managed-by': 'shipyard', 'app.kubernetes.io/component': 'wildcard-certificate' };
    expect(cert).toMatchObject({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate' });
    // No instance label: it belongs to no instance, so no instance's teardown or orphan sweep takes it.
    expect(cert.metadata).toEqual({ name: 'shipyard-wildcard', namespace: 'ingress-nginx', labels: ours });
    expect(cert.spec).toEqual({
      secretName: 'shipyard-wildcard-tls',
      dnsNames: ['*.apps.shipyard.test'],
      issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'shipyard-ca' },
      privateKey: { algorithm: 'ECDSA', size: 256 },
      secretTemplate: { labels: ours },
    });
    expect(wildcardCertificateManifest({ ...config, baseDomain: 'apps.example.com', certIssuer: 'letsencrypt-dns01', ingressNamespace: 'edge' })).toMatchObject({
      metadata: { name: 'shipyard-wildcard', namespace: 'edge' },
      spec: { dnsNames: ['*.apps.example.com'], issuerRef: { name: 'letsencrypt-dns01' } },
    });
  });

  it("serves the host over TLS without a Secret of its own: the ingress controller's default certificate", () => {
    const ingress = ingressManifest('acme', config, 'wildcard') as Loose;
    expect(ingress.spec.tls).toEqual([{ hosts: ['acme.apps.shipyard.test'] }]);
    expect(ingress.spec.tls[0]).not.toHaveProperty('secretName');
    expect(ingress.spec.rules[0].host).toBe('acme.apps.shipyard.test');
    // Per instance stays the default.
    expect((ingressManifest('acme', config, 'per-instance') as Loose).spec).toEqual((ingressManifest('acme', config) as Loose).spec);
  });
});
