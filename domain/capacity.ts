// Whether the cluster can hold one more instance's quota (or a bigger one): the ResourceQuotas
// Shipyard stamped on tenant namespaces are what is promised, the nodes' allocatable is what
// there is. Pure: the workers list the cluster (activities/capacity.ts) and keep the listing in the
// catalogue (db/capacity.ts); the API admits a provision against what they keep.
import { quantityToScalar } from '@kubernetes/client-node/dist/util.js';
import { namespaceFor, type Plan } from './instance';

export interface CapacityView {
  allocatable: { cpu: number; memoryBytes: number };
  /** Sum of the requests.cpu / requests.memory quotas of every Shipyard namespace but the excluded one. */
  promised: { cpu: number; memoryBytes: number };
}

/** A Kubernetes quantity ("500m", "2Gi") as a number. */
export const quantityValue = (quantity: string | undefined): number => (quantity ? Number(quantityToScalar(quantity)) : 0);

/**
 * The schedulable nodes' allocatable and the quota of each Shipyard namespace, as listed at one
 * moment: reduced to numbers, as the catalogue keeps them for the API's check.
 */
export interface ClusterListing {
  allocatable: { cpu: number; memoryBytes: number };
  quotas: { namespace: string; cpu: number; memoryBytes: number }[];
}

/** An instance's plan requests, counted while its namespace has no quota in a listing. */
export interface PlannedQuota {
  slug: string;
  cpu: string;
  memory: string;
}

/**
 * What `listing` says is there and promised, plus each of `planned` whose namespace had no quota
 * when it was listed (an instance in its first steps, or one accepted after the listing): it
 * counts with its plan, so instances accepted at the same moment do not all fit into the same room.
 */
export function capacityView({ allocatable, quotas }: ClusterListing, excludeSlug?: string, planned: PlannedQuota[] = []): CapacityView {
  const excluded = excludeSlug ? namespaceFor(excludeSlug) : undefined;
  const promised = { cpu: 0, memoryBytes: 0 };
  const withQuota = new Set<string>();
  for (const q of quotas) {
    withQuota.add(q.namespace);
    if (q.namespace === excluded) continue;
    promised.cpu += q.cpu;
    promised.memoryBytes += q.memoryBytes;
  }
  for (const p of planned) {
    const namespace = namespaceFor(p.slug);
    if (namespace === excluded || withQuota.has(namespace)) continue;
    promised.cpu += quantityValue(p.cpu);
    promised.memoryBytes += quantityValue(p.memory);
  }
  return { allocatable: { ...allocatable }, promised };
}

/** Why `plan` does not fit next to what is promised, or undefined when it does. */
export function capacityShortfall(view: CapacityView, plan: Pick<Plan, 'name' | 'cpu' | 'memory'>, overcommitRatio: number): string | undefined {
  const cpu = view.promised.cpu + quantityValue(plan.cpu);
  const memory = view.promised.memoryBytes + quantityValue(plan.memory);
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
