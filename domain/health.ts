// An instance's health, apart from its lifecycle status: what the last check found, check by check.
export const healths = ['healthy', 'degraded', 'unhealthy', 'unknown'] as const;
export type Health = (typeof healths)[number];

export const checkStatuses = ['pass', 'fail', 'healed'] as const;
export type CheckStatus = (typeof checkStatuses)[number];

export interface HealthCheck {
  name: string;
  status: CheckStatus;
  detail?: string;
  /**
   * A failure that leaves the instance unusable (an object missing, the database refusing the
   * tenant) rather than impaired (a rollout not yet available, a certificate about to expire).
   */
  critical?: boolean;
}

/** healthy: every check passed or was healed; unhealthy: a critical check still fails; degraded otherwise. */
export function healthOf(checks: readonly HealthCheck[]): Health {
  const failing = checks.filter((c) => c.status === 'fail');
  if (failing.length === 0) return 'healthy';
  return failing.some((c) => c.critical) ? 'unhealthy' : 'degraded';
}

export interface SweepTotals {
  checked: number;
  healthy: number;
  degraded: number;
  unhealthy: number;
  healed: number;
  errors: number;
}

export const noTotals: SweepTotals = { checked: 0, healthy: 0, degraded: 0, unhealthy: 0, healed: 0, errors: 0 };

export const sweepStatuses = ['running', 'succeeded', 'failed'] as const;

/** A cluster a sweep found offline: no capacity report for three periods, so its instances were not looked at. */
export interface OfflineCluster {
  name: string;
  region: string;
  /** Its last capacity report; null when it never reported. */
  reportedAt: string | null;
  /** Instances placed in it (not deleted) when the sweep looked. */
  instanceCount: number;
}

/** The name of the check that stands in for all the others when an instance's cluster cannot be looked at. */
export const clusterCheckName = 'cluster';

/**
 * The verdict on an instance whose cluster is offline. Its objects are out of reach, so none is
 * judged: the health is `unknown` (not `unhealthy`, which would alert on every instance of a
 * cluster whose worker is merely cut off, and not the last verdict, which would claim a look that
 * did not happen). The one check says why and since when; nothing is healed.
 */
export function offlineClusterVerdict(cluster: { name: string; region: string; reportedAt: Date | null }): { health: Health; checks: HealthCheck[] } {
  const since = cluster.reportedAt ? `no report since ${cluster.reportedAt.toISOString()}` : 'it has never reported';
  return {
    health: 'unknown',
    checks: [
      {
        name: clusterCheckName,
        status: 'fail',
        detail: `cluster ${cluster.name} (region ${cluster.region}) is offline: ${since}; its objects were not checked and the health is unknown until it reports again`,
      },
    ],
  };
}

/**
 * The task queue an instance's check runs on: its cluster's own, when it is placed in a cluster
 * that reports (only that cluster's worker sees its objects, its tenant database and its ingress
 * target); undefined, the central queue, for an unplaced instance and for one whose cluster is
 * offline (the central check reports the cluster without waiting on a queue nobody serves).
 */
export function healthCheckQueue(cluster: { taskQueue: string; status: 'online' | 'draining' | 'offline' } | undefined): string | undefined {
  return cluster && cluster.status !== 'offline' ? cluster.taskQueue : undefined;
}
