// What exists in the outside world for one instance, read straight from the real parts:
// Kubernetes, Route 53 and Postgres. Tests compare these snapshots; nothing here goes through Shipyard.
import { ListResourceRecordSetsCommand, type ResourceRecordSet, Route53Client, type RRType } from '@aws-sdk/client-route-53';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, NetworkingV1Api } from '@kubernetes/client-node';
import postgres from 'postgres';
import type { Config } from '../../domain/config';
import { databaseNameFor, databaseRoleFor, hostnameFor, namespaceFor } from '../../domain/instance';
import { loadKubeConfig } from '../../activities/kube-config';

export interface World {
  namespace: boolean;
  deployments: { name: string; image: string; replicas: number; readyReplicas: number }[];
  services: string[];
  ingresses: string[];
  certificates: { name: string; ready: boolean }[];
  secrets: string[];
  quotas: string[];
  limitRanges: string[];
  networkPolicies: string[];
  dnsRecords: { name: string; type: string; values: string[] }[];
  database: boolean;
  role: boolean;
}

export function worldReader(config: Config) {
  const kube = loadKubeConfig(config.kubeconfig);
  const core = kube.makeApiClient(CoreV1Api);
  const apps = kube.makeApiClient(AppsV1Api);
  const net = kube.makeApiClient(NetworkingV1Api);
  const custom = kube.makeApiClient(CustomObjectsApi);
  const route53 = new Route53Client({ region: config.awsRegion, endpoint: config.route53Endpoint });
  const tenantDb = postgres(config.tenantDatabaseUrl, { max: 2, onnotice: () => {} });

  /** Every record set in the zone, page by page: a zone shared by many test runs outgrows one page. */
  async function allRecords(): Promise<ResourceRecordSet[]> {
    const all: ResourceRecordSet[] = [];
    let next: { StartRecordName?: string; StartRecordType?: RRType; StartRecordIdentifier?: string } = {};
    for (;;) {
      const page = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: config.hostedZoneId, ...next }));
      all.push(...(page.ResourceRecordSets ?? []));
      if (!page.IsTruncated) return all;
      next = { StartRecordName: page.NextRecordName, StartRecordType: page.NextRecordType, StartRecordIdentifier: page.NextRecordIdentifier };
    }
  }

  async function namespaceState(slug: string): Promise<'absent' | 'terminating' | 'active'> {
    return core.readNamespace({ name: namespaceFor(slug) }).then(
      (ns) => (ns.metadata?.deletionTimestamp ? 'terminating' : 'active'),
      (err: { code?: number }) => {
        if (err.code === 404) return 'absent';
        throw err;
      },
    );
  }

  async function read(slug: string): Promise<World> {
    const namespace = namespaceFor(slug);
    const exists = (await namespaceState(slug)) !== 'absent';
    const names = (list: { items: { metadata?: { name?: string } }[] }) => list.items.map((i) => i.metadata!.name!).sort();
    const inNamespace = exists
      ? {
          deployments: (await apps.listNamespacedDeployment({ namespace })).items.map((d) => ({
            name: d.metadata!.name!,
            image: d.spec!.template.spec!.containers[0]!.image!,
            replicas: d.spec!.replicas ?? 0,
            readyReplicas: d.status?.readyReplicas ?? 0,
          })),
          services: names(await core.listNamespacedService({ namespace })),
          ingresses: names(await net.listNamespacedIngress({ namespace })),
          certificates: (
            (await custom.listNamespacedCustomObject({ group: 'cert-manager.io', version: 'v1', namespace, plural: 'certificates' })) as {
              items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[];
            }
          ).items.map((c) => ({
            name: c.metadata.name,
            ready: !!c.status?.conditions?.some((k) => k.type === 'Ready' && k.status === 'True'),
          })),
          secrets: names(await core.listNamespacedSecret({ namespace })),
          quotas: names(await core.listNamespacedResourceQuota({ namespace })),
          limitRanges: names(await core.listNamespacedLimitRange({ namespace })),
          networkPolicies: names(await net.listNamespacedNetworkPolicy({ namespace })),
        }
      : { deployments: [], services: [], ingresses: [], certificates: [], secrets: [], quotas: [], limitRanges: [], networkPolicies: [] };

    const hostname = hostnameFor(slug, config.baseDomain);
    const dnsRecords = (await allRecords())
      .filter((r) => r.Name!.replace(/\.$/, '').endsWith(hostname) && r.Name!.replace(/\.$/, '').split('.').includes(slug))
      .map((r) => ({ name: r.Name!.replace(/\.$/, ''), type: r.Type!, values: (r.ResourceRecords ?? []).map((v) => v.Value!) }));

    const [db] = await tenantDb`select count(*)::int as n from pg_database where datname = ${databaseNameFor(slug)}`;
    const [role] = await tenantDb`select count(*)::int as n from pg_roles where rolname = ${databaseRoleFor(slug)}`;
    return { namespace: exists, ...inNamespace, dnsRecords, database: db!.n > 0, role: role!.n > 0 };
  }

  /** The app's DATABASE_URL as Shipyard wrote it into the instance's Secret. */
  async function appDatabaseUrl(slug: string, secretName = 'app-env'): Promise<string> {
    const secret = await core.readNamespacedSecret({ name: secretName, namespace: namespaceFor(slug) });
    return Buffer.from(secret.data!.DATABASE_URL!, 'base64').toString('utf8');
  }

  /**
   * The world once a namespace on its way out has finished going (the controller empties it
   * first): a terminating namespace is not "left behind" unless it stays.
   */
  async function readSettled(slug: string, timeoutMs = 60_000): Promise<World> {
    const deadline = Date.now() + timeoutMs;
    while ((await namespaceState(slug)) === 'terminating' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return read(slug);
  }

  return {
    read,
    readSettled,
    appDatabaseUrl,
    async close() {
      route53.destroy();
      await tenantDb.end({ timeout: 5 });
    },
  };
}

export const nothingLeft: Partial<World> = {
  namespace: false,
  deployments: [],
  dnsRecords: [],
  database: false,
  role: false,
};
