// Reading the cluster for the capacity checks (domain/capacity.ts): the nodes' allocatable and the
// ResourceQuotas Shipyard stamped on tenant namespaces. A plan change checks a fresh listing (a
// shortfall is permanent for it: InsufficientCapacity); a provision is admitted against the
// picture the workers keep in the catalogue (db/capacity.ts), which the refresh here replaces.
import { CoreV1Api, type KubeConfig, type V1ResourceQuota } from '@kubernetes/client-node';
import { capacityShortfall, capacityView, type CapacityView, type ClusterListing, quantityValue } from '../domain/capacity';
import { managedByLabel, managedByValue, type Plan } from '../domain/instance';
import { replaceClusterPicture } from '../db/capacity';
import { livePlans } from '../db/plans';
import type { Database } from '../db/client';
import { errorTypes, kubeError, permanent } from './errors';

/** What a tenant ResourceQuota promises, as counted against the allocatable. */
export const promisedBy = (quota: V1ResourceQuota): ClusterListing['quotas'][number] => ({
  namespace: quota.metadata?.namespace ?? '',
  cpu: quantityValue(quota.spec?.hard?.['requests.cpu']),
  memoryBytes: quantityValue(quota.spec?.hard?.['requests.memory']),
});

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
      quotas: quotas.map(promisedBy),
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

/**
 * Lists the cluster and makes it `taskQueue`'s picture, which admission reads. Run when a worker
 * starts and on every reconcile pass; between two, the namespace activities keep it current.
 */
export async function refreshClusterPicture(kube: KubeConfig, db: Database, taskQueue: string): Promise<ClusterListing> {
  // Taken before the listing: a placement recorded after this moment is newer than what it shows.
  const listedAt = new Date();
  const listing = await listCluster(kube);
  await replaceClusterPicture(db, taskQueue, listing, listedAt);
  return listing;
}

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
