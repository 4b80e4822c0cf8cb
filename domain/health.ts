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
