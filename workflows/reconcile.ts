import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ReconcileSummary } from '../activities/reconcile';

const { reconcileRunningOperations } = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '5s', maximumAttempts: 3 },
});

/**
 * Started by the `shipyard-reconcile` schedule: settles operations whose runs closed without
 * recording their result, so no instance stays stuck in a transitional status.
 */
export async function reconcileOperations(): Promise<ReconcileSummary> {
  return reconcileRunningOperations();
}
