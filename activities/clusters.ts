// A cluster worker's side of the catalogue of clusters: the capacity report the
// `shipyard-cluster-reports` schedule asks each cluster for, run on that cluster's own queue by the
// worker inside it, so what it lists is its own nodes (no kubeconfig leaves the cluster).
import { listClusters } from '../db/clusters';
import { refreshClusterPicture } from './capacity';
import type { ActivityDeps } from './deps';

export function createClusterActivities({ kube, db, config }: Pick<ActivityDeps, 'kube' | 'db' | 'config'>) {
  return {
    /** The clusters to ask for a report: every registered one, by task queue. */
    async registeredClusters(): Promise<{ name: string; taskQueue: string }[]> {
      return (await listClusters(db)).map(({ name, taskQueue }) => ({ name, taskQueue }));
    },

    /**
     * Lists this worker's cluster (nodes' allocatable, tenant quotas) into the catalogue under its
     * task queue; the time of the listing is the cluster's last report, which its status reads.
     */
    async reportClusterCapacity(): Promise<{ cpu: number; memoryBytes: number }> {
      // A cluster worker's activities see its cluster's queue as theirs (worker/run.ts).
      return (await refreshClusterPicture(kube, db, config.taskQueue)).allocatable;
    },
  };
}
