// Reading the cluster for the capacity check (domain/capacity.ts): the nodes' allocatable and the
// ResourceQuotas Shipyard stamped on tenant namespaces. Reads only; a shortfall is permanent for
// this request (InsufficientCapacity).
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { capacityShortfall, capacityView, type CapacityView, type ClusterListing, quantityValue } from '../domain/capacity';
import { managedByLabel, managedByValue, type Plan } from '../domain/instance';
import { livePlans } from '../db/plans';
import type { Database } from '../db/client';
import { errorTypes, kubeError, permanent } from './errors';

async function listCluster(kube: KubeConfig): Promise<ClusterListing> {
  const core = kube.makeApiClient(CoreV1Api);
  try {
    const nodes = (await core.listNode()).items;
    const quotas = (await core.listResourceQuotaForAllNamespaces({ labelSelector: `${managedByLabel}=${managedByValue}` })).items;
    const allocatable = { cpu: 0, memoryBytes: 0 };
    for (const n of nodes) {
      if (n.spec?.unschedulable) continue;
      allocatable.cpu += quantityValue(n.status?.allocatable?.cpu);
      allocatable.memoryBytes += quantityValue(n.status?.allocatable?.memory);
    }
    return {
      allocatable,
      quotas: quotas.map((q) => ({
        namespace: q.metadata?.namespace ?? '',
        cpu: quantityValue(q.spec?.hard?.['requests.cpu']),
        memoryBytes: quantityValue(q.spec?.hard?.['requests.memory']),
      })),
    };
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
  return capacityView(listing, excludeSlug, await livePlans(db));
}

export function createCapacityActivities({ kube, db, config }: { kube: KubeConfig; db: Database; config: { overcommitRatio: number } }) {
  return {
    /** The cluster for the API's capacity check before a provision (the API holds no Kubernetes client). */
    async listClusterCapacity(): Promise<ClusterListing> {
      return listCluster(kube);
    },

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
