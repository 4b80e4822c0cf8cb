// The `shipyard-cluster-reports` schedule's run: every registered cluster's worker lists its own
// cluster into the catalogue, on that cluster's task queue. A cluster whose worker does not take
// the task within the period does not report, and so turns offline after three periods; the others
// are not held up by it.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { quick } from './activities';

export async function reportClusters({ periodSeconds }: { periodSeconds: number }): Promise<{ reported: string[]; silent: string[] }> {
  const clusters = await quick.registeredClusters();
  const outcomes = await Promise.allSettled(
    clusters.map(({ taskQueue }) =>
      proxyActivities<Activities>({
        taskQueue,
        // Waiting in the queue counts: a cluster with no worker is simply silent this period.
        scheduleToCloseTimeout: `${periodSeconds}s`,
        retry: { maximumAttempts: 1 },
      }).reportClusterCapacity(),
    ),
  );
  const reported = clusters.filter((_, i) => outcomes[i]!.status === 'fulfilled').map((c) => c.name);
  return { reported, silent: clusters.map((c) => c.name).filter((n) => !reported.includes(n)) };
}
