// Clusters instances may be placed in: how a cluster's task queue is named, what its status is
// from its last capacity report, and which one a placement picks. Pure: the cluster workers
// report (activities/clusters.ts), the catalogue keeps (db/clusters.ts), the lifecycle places.
import { capacityShortfall, type CapacityView } from './capacity';
import type { Plan } from './instance';

export const clusterStatuses = ['online', 'draining', 'offline'] as const;
export type ClusterStatus = (typeof clusterStatuses)[number];

export { clusterNamePattern } from './validation';

/**
 * The task queue of `cluster`'s worker: the central queue's name and the cluster's, so two
 * Shipyard deployments on one Temporal namespace (two SHIPYARD_TASK_QUEUEs) keep apart.
 */
export function clusterTaskQueue(centralQueue: string, cluster: string): string {
  return `${centralQueue}@${cluster}`;
}

/** Where an operation's cluster activities run: fixed when it starts, recorded in its input. */
export interface Placement {
  cluster: string;
  taskQueue: string;
  /** The name the instance's DNS record points at in this cluster. */
  ingressTarget: string;
}

/** How long after its last capacity report a cluster still counts as online: three report periods. */
export function offlineAfterSeconds(reportSeconds: number): number {
  return reportSeconds * 3;
}

/** A cluster's status: drained by an operator, or online while its worker has reported lately. */
export function clusterStatus(cluster: { drained: boolean; reportedAt: Date | null }, now: Date, reportSeconds: number): ClusterStatus {
  const fresh = cluster.reportedAt !== null && now.getTime() - cluster.reportedAt.getTime() <= offlineAfterSeconds(reportSeconds) * 1000;
  if (!fresh) return 'offline';
  return cluster.drained ? 'draining' : 'online';
}

/** `SHIPYARD_CLUSTER_LABELS` (`tier=gold,zone=a`) as a map. */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`cluster label "${pair}" is not key=value`);
    labels[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return labels;
}

export interface PlacementCandidate {
  name: string;
  region: string;
  status: ClusterStatus;
  /** What it has and what is promised in it; undefined before its first report. */
  capacity: CapacityView | undefined;
}

/**
 * The cluster a new instance of `plan` goes to among `candidates` (all of one region, or the one
 * asked for): an online one it fits in, with the most CPU left after it; else why none would do.
 */
export function pickCluster(
  candidates: PlacementCandidate[],
  plan: Pick<Plan, 'name' | 'cpu' | 'memory'>,
  overcommitRatio: number,
): { cluster: PlacementCandidate } | { refusal: string } {
  const online = candidates.filter((c) => c.status === 'online' && c.capacity);
  const fitting = online.filter((c) => !capacityShortfall(c.capacity!, plan, overcommitRatio));
  if (fitting.length === 0) {
    const why = candidates.map((c) =>
      c.status !== 'online' || !c.capacity ? `${c.name} is ${c.status}` : `${c.name}: ${capacityShortfall(c.capacity, plan, overcommitRatio)}`,
    );
    return { refusal: why.join('; ') };
  }
  const free = (c: PlacementCandidate) => c.capacity!.allocatable.cpu * overcommitRatio - c.capacity!.promised.cpu;
  return { cluster: fitting.reduce((best, c) => (free(c) > free(best) ? c : best)) };
}
