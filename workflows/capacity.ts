// The cluster as the API's capacity check sees it. The API server holds no Kubernetes client
// (it is the worker's identity that may read nodes), so before admitting a provision it starts
// this short run and waits for its answer: the nodes' allocatable and the tenant quotas.
import { proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ClusterListing } from '../domain/capacity';

// Two list calls. A listing that keeps failing ends the run, and the waiting request answers 503.
const { listClusterCapacity } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '20s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumAttempts: 3 },
});

export async function listClusterForAdmission(): Promise<ClusterListing> {
  return listClusterCapacity();
}
