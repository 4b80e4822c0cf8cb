// The cluster listing behind the capacity check before a provision. The API server holds no
// Kubernetes client: the worker's identity is the one that may read nodes and quotas, and the
// client would be a fifth of the API's memory. So a provision request asks a worker, through a
// short run, and waits for its answer.
import { randomUUID } from 'node:crypto';
import { type Client, WorkflowFailedError } from '@temporalio/client';
import type { ClusterListing } from '../domain/capacity';
import type { Config } from '../domain/config';
import { Problem } from './problems';

/** How long a provision request waits for a worker's listing before answering 503. */
const LISTING_DEADLINE_MS = 30_000;

/**
 * A listing started now, or the one already under way: requests that arrive together share one
 * (a fleet's worth of provisions would otherwise each list every quota at once). Sound for the
 * capacity check because what a listing misses — instances accepted since — the catalogue adds.
 */
export function clusterListingFromWorkers(
  temporal: Client,
  config: Pick<Config, 'taskQueue'>,
  deadlineMs = LISTING_DEADLINE_MS,
): () => Promise<ClusterListing> {
  let inFlight: Promise<ClusterListing> | undefined;
  return () => {
    inFlight ??= listThroughWorker(temporal, config, deadlineMs).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}

async function listThroughWorker(temporal: Client, config: Pick<Config, 'taskQueue'>, deadlineMs: number): Promise<ClusterListing> {
  const handle = await temporal.workflow.start('listClusterForAdmission', {
    workflowId: `cluster-listing:${randomUUID()}`,
    taskQueue: config.taskQueue,
    // Ahead of the operations' own tasks (1 is the highest): a fleet arriving at once keeps the
    // queue full, and this request is waiting on it.
    priority: { priorityKey: 1 },
    // With no worker to take it, the run ends instead of lingering.
    workflowExecutionTimeout: `${deadlineMs * 2}ms`,
  });
  try {
    return await temporal.withDeadline(Date.now() + deadlineMs, () => handle.result() as Promise<ClusterListing>);
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw new Problem(503, `the capacity check could not list the cluster: ${innermostMessage(err)}`);
    throw new Problem(503, `no worker listed the cluster for the capacity check within ${deadlineMs / 1000}s; is a worker polling task queue "${config.taskQueue}"?`);
  }
}

/** The listing's own error, under the workflow's and the activity's wrappers. */
function innermostMessage(err: Error): string {
  let inner: unknown = err;
  while (inner instanceof Error && inner.cause instanceof Error) inner = inner.cause;
  return inner instanceof Error ? inner.message : String(inner);
}
