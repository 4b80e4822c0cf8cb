// Whether the cluster can hold one more instance's quota (or a bigger one): the ResourceQuotas
// Shipyard stamped on tenant namespaces are what is promised, the nodes' allocatable is what
// there is. Reads only; a shortfall is permanent for this request (InsufficientCapacity).
import { CoreV1Api, type KubeConfig, type V1Node, type V1ResourceQuota } from '@kubernetes/client-node';
import { quantityToScalar } from '@kubernetes/client-node/dist/util.js';
import { managedByLabel, managedByValue, namespaceFor, type Plan } from '../domain/instance';
import * as catalogue from '../db/catalogue';
import type { Database } from '../db/client';
import { errorTypes, kubeError, permanent } from './errors';

export interface CapacityView {
  allocatable: { cpu: number; memoryBytes: number };
  /** Sum of the requests.cpu / requests.memory quotas of every Shipyard namespace but the excluded one. */
  promised: { cpu: number; memoryBytes: number };
}

const scalar = (quantity: string | undefined): number => (quantity ? Number(quantityToScalar(quantity)) : 0);

/** The nodes and the quotas of Shipyard's namespaces, as listed at one moment. */
export interface ClusterListing {
  nodes: V1Node[];
  quotas: V1ResourceQuota[];
}

/** An instance's plan requests, counted while its namespace has no quota in a listing. */
export interface PlannedQuota {
  slug: string;
  cpu: string;
  memory: string;
}

const inFlight = new WeakMap<KubeConfig, Promise<ClusterListing>>();

/**
 * A listing started now, or the one already under way: requests that arrive together share one
 * (a fleet's worth of provisions would otherwise each list every quota at once). Sound for the
 * capacity check because what a listing misses — instances accepted since — the catalogue adds.
 */
export function sharedClusterListing(kube: KubeConfig): Promise<ClusterListing> {
  let listing = inFlight.get(kube);
  if (!listing) {
    listing = listCluster(kube).finally(() => inFlight.delete(kube));
    inFlight.set(kube, listing);
  }
  return listing;
}

async function listCluster(kube: KubeConfig): Promise<ClusterListing> {
  const core = kube.makeApiClient(CoreV1Api);
  try {
    const nodes = (await core.listNode()).items;
    const quotas = (await core.listResourceQuotaForAllNamespaces({ labelSelector: `${managedByLabel}=${managedByValue}` })).items;
    return { nodes, quotas };
  } catch (err) {
    throw kubeError('read nodes and tenant quotas', err);
  }
}

/**
 * What the cluster has and what is promised, read now (see capacityView). The catalogue is read
 * after the listing, so an instance accepted in between is counted by one or the other.
 */
export async function readCapacity(kube: KubeConfig, db: Database, excludeSlug?: string): Promise<CapacityView> {
  const listing = await listCluster(kube);
  return capacityView(listing, excludeSlug, await catalogue.livePlans(db));
}

/**
 * What `listing` says is there and promised, plus each of `planned` whose namespace had no quota
 * when it was listed (an instance in its first steps, or one accepted after the listing): it
 * counts with its plan, so instances accepted at the same moment do not all fit into the same room.
 */
export function capacityView({ nodes, quotas }: ClusterListing, excludeSlug?: string, planned: PlannedQuota[] = []): CapacityView {
  const excluded = excludeSlug ? namespaceFor(excludeSlug) : undefined;
  const promised = { cpu: 0, memoryBytes: 0 };
  const withQuota = new Set<string>();
  for (const q of quotas) {
    if (q.metadata?.namespace) withQuota.add(q.metadata.namespace);
    if (q.metadata?.namespace === excluded) continue;
    promised.cpu += scalar(q.spec?.hard?.['requests.cpu']);
    promised.memoryBytes += scalar(q.spec?.hard?.['requests.memory']);
  }
  for (const p of planned) {
    const namespace = namespaceFor(p.slug);
    if (namespace === excluded || withQuota.has(namespace)) continue;
    promised.cpu += scalar(p.cpu);
    promised.memoryBytes += scalar(p.memory);
  }
  const allocatable = { cpu: 0, memoryBytes: 0 };
  for (const n of nodes) {
    if (n.spec?.unschedulable) continue;
    allocatable.cpu += scalar(n.status?.allocatable?.cpu);
    allocatable.memoryBytes += scalar(n.status?.allocatable?.memory);
  }
  return { allocatable, promised };
}

/** Why `plan` does not fit next to what is promised, or undefined when it does. */
export function capacityShortfall(view: CapacityView, plan: Pick<Plan, 'name' | 'cpu' | 'memory'>, overcommitRatio: number): string | undefined {
  const cpu = view.promised.cpu + scalar(plan.cpu);
  const memory = view.promised.memoryBytes + scalar(plan.memory);
  const cpuLimit = view.allocatable.cpu * overcommitRatio;
  const memoryLimit = view.allocatable.memoryBytes * overcommitRatio;
  const short: string[] = [];
  if (cpu > cpuLimit) short.push(`cpu ${round(cpu)} of ${round(cpuLimit)}`);
  if (memory > memoryLimit) short.push(`memory ${gib(memory)} of ${gib(memoryLimit)}`);
  if (short.length === 0) return undefined;
  return `insufficient capacity for plan ${plan.name}: quotas would request ${short.join(' and ')} allocatable (overcommit ratio ${overcommitRatio})`;
}

const round = (n: number) => Math.round(n * 100) / 100;
const gib = (bytes: number) => `${round(bytes / 2 ** 30)}Gi`;

export function createCapacityActivities({ kube, db, config }: { kube: KubeConfig; db: Database; config: { overcommitRatio: number } }) {
  return {
    /**
     * Fails (non-retryable InsufficientCapacity) when `plan` for `slug` does not fit; `slug`'s own
     * current quota is not counted, and instances accepted but without a quota yet are.
     */
    async checkCapacity(slug: string, plan: Pick<Plan, 'name' | 'cpu' | 'memory'>): Promise<void> {
      const shortfall = capacityShortfall(await readCapacity(kube, db, slug), plan, config.overcommitRatio);
      if (shortfall) throw permanent(shortfall, errorTypes.insufficientCapacity);
    },
  };
}
