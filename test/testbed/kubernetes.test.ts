// The testbed cluster behaves the way Shipyard's Kubernetes activities rely on: room for a fleet,
// Deployments roll out on kwok nodes, images tagged `fail-…` never become Ready, cert-manager
// issues from the `shipyard-ca` ClusterIssuer, and deleting a Namespace really removes it.
import { randomBytes, X509Certificate } from 'node:crypto';
import { KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Condition = { type: string; status: string };
type WithStatus = KubernetesObject & {
  spec?: { nodeName?: string };
  status?: { conditions?: Condition[]; phase?: string; readyReplicas?: number };
  data?: Record<string, string>;
};

const ns = `tb-k8s-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const labels = { 'app.kubernetes.io/managed-by': 'shipyard-test' };
let client: KubernetesObjectApi;

function conditionStatus(object: WithStatus, type: string): string | undefined {
  return object.status?.conditions?.find((c) => c.type === type)?.status;
}

async function read(apiVersion: string, kind: string, name: string, namespace?: string): Promise<WithStatus> {
  return (await client.read({ apiVersion, kind, metadata: { name, namespace } } as never)) as WithStatus;
}

function deployment(name: string, image: string, replicas: number): KubernetesObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }] }] },
      },
    },
  } as KubernetesObject;
}

beforeAll(async () => {
  const kubeconfig = process.env.KUBECONFIG;
  if (!kubeconfig) throw new Error('KUBECONFIG is not set; the vitest globalSetup should have provided it');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  client = KubernetesObjectApi.makeApiClient(kc);

  const objects: KubernetesObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } },
    deployment('web', 'registry.shipyard.test/web:1.4.2', 2),
    deployment('broken', 'registry.shipyard.test/web:fail-1.4.3', 1),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: ns, labels },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    } as KubernetesObject,
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'web', namespace: ns, labels },
      spec: {
        ingressClassName: 'nginx',
        tls: [{ hosts: [`${ns}.shipyard.test`], secretName: 'web-tls' }],
        rules: [
          {
            host: `${ns}.shipyard.test`,
            http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] },
          },
        ],
      },
    } as KubernetesObject,
    {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'web', namespace: ns, labels },
      spec: {
        secretName: 'web-tls',
        dnsNames: [`${ns}.shipyard.test`],
        issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'shipyard-ca' },
      },
    } as KubernetesObject,
  ];
  for (const object of objects) {
    await client.patch(object, undefined, undefined, 'shipyard-test', true, PatchStrategy.ServerSideApply);
  }
});

afterAll(async () => {
  // The last test deletes the namespace; this only cleans up after an earlier failure.
  await client?.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }).catch(() => undefined);
});

describe('testbed Kubernetes cluster', () => {
  it('has fake nodes with room for a fleet of 2,000 single-pod instances', async () => {
    const nodes = (await client.list('v1', 'Node')).items as (KubernetesObject & { status?: { allocatable?: Record<string, string> } })[];
    const pods = nodes.filter((n) => n.metadata?.name?.startsWith('kwok-node-')).reduce((sum, n) => sum + Number(n.status?.allocatable?.pods ?? 0), 0);
    expect(pods).toBeGreaterThanOrEqual(2000);
  });

  it('rolls a Deployment out on kwok nodes', async () => {
    await expect
      .poll(async () => conditionStatus(await read('apps/v1', 'Deployment', 'web', ns), 'Available'), { timeout: 60_000, interval: 500 })
      .toBe('True');
    const web = await read('apps/v1', 'Deployment', 'web', ns);
    expect(web.status?.readyReplicas).toBe(2);
    const ingress = await read('networking.k8s.io/v1', 'Ingress', 'web', ns);
    expect((ingress as { spec?: { ingressClassName?: string } }).spec?.ingressClassName).toBe('nginx');
  });

  it('issues a Certificate from the shipyard-ca ClusterIssuer', async () => {
    await expect
      .poll(async () => conditionStatus(await read('cert-manager.io/v1', 'Certificate', 'web', ns), 'Ready'), { timeout: 60_000, interval: 500 })
      .toBe('True');
    const secret = await read('v1', 'Secret', 'web-tls', ns);
    const leaf = new X509Certificate(Buffer.from(secret.data!['tls.crt']!, 'base64'));
    expect(secret.data!['tls.key']).toBeTruthy();
    expect(leaf.subjectAltName).toContain(`${ns}.shipyard.test`);

    const caSecret = await read('v1', 'Secret', 'shipyard-ca', 'cert-manager');
    const ca = new X509Certificate(Buffer.from(caSecret.data!['tls.crt']!, 'base64'));
    expect(leaf.issuer).toBe(ca.subject);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
  });

  it('schedules pods with a fail- image tag but never makes them Ready', async () => {
    // kwok settles a pod once: when it leaves Pending, the never-ready stage has been applied and no
    // stage will touch it again, so "Running and not Ready" is final, not a moment in a race.
    await expect
      .poll(
        async () => {
          const list = await client.list('v1', 'Pod', ns, undefined, undefined, undefined, undefined, 'app=broken');
          return (list.items as WithStatus[]).filter((p) => p.status?.phase === 'Running');
        },
        { timeout: 60_000, interval: 500 },
      )
      .toHaveLength(1);
    const list = await client.list('v1', 'Pod', ns, undefined, undefined, undefined, undefined, 'app=broken');
    const pod = list.items[0] as WithStatus;
    expect(pod.spec?.nodeName).toMatch(/^kwok-node-/);
    expect(conditionStatus(pod, 'Ready')).toBe('False');

    const broken = await read('apps/v1', 'Deployment', 'broken', ns);
    expect(conditionStatus(broken, 'Available')).toBe('False');
    expect(broken.status?.readyReplicas ?? 0).toBe(0);
    // And the good one next to it is Available at the same moment.
    expect(conditionStatus(await read('apps/v1', 'Deployment', 'web', ns), 'Available')).toBe('True');
  });

  it('removes a deleted Namespace completely', async () => {
    await client.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await expect
      .poll(
        async () => {
          try {
            await read('v1', 'Namespace', ns);
            return 'present';
          } catch (err) {
            return (err as { code?: number }).code === 404 ? 'gone' : 'present';
          }
        },
        { timeout: 90_000, interval: 1000 },
      )
      .toBe('gone');
  });
});
