// An instance's verdict from its checks; the verdict on one whose cluster is offline; where a check runs.
import { describe, expect, it } from 'vitest';
import { healthCheckQueue, healthOf, offlineClusterVerdict } from '../../domain/health';

describe('healthOf', () => {
  it('is healthy when every check passed or was healed', () => {
    expect(healthOf([{ name: 'service', status: 'pass' }, { name: 'ingress', status: 'healed', critical: true }])).toBe('healthy');
  });
  it('is degraded when only non-critical checks fail (a rollout not available, a certificate expiring)', () => {
    expect(healthOf([{ name: 'service', status: 'pass' }, { name: 'certificate', status: 'fail' }])).toBe('degraded');
  });
  it('is unhealthy when a critical check still fails', () => {
    expect(healthOf([{ name: 'certificate', status: 'fail' }, { name: 'service', status: 'fail', critical: true }])).toBe('unhealthy');
  });
});

describe('an instance in an offline cluster', () => {
  it('is unknown, not unhealthy, with one check naming the cluster, its region and its last report', () => {
    const verdict = offlineClusterVerdict({ name: 'eu-2', region: 'eu', reportedAt: new Date('2026-03-01T10:00:00Z') });
    expect(verdict.health).toBe('unknown');
    expect(verdict.checks).toEqual([
      {
        name: 'cluster',
        status: 'fail',
        detail: 'cluster eu-2 (region eu) is offline: no report since 2026-03-01T10:00:00.000Z; its objects were not checked and the health is unknown until it reports again',
      },
    ]);
    // Not critical: nothing about the instance itself was found failing.
    expect(verdict.checks[0]!.critical).toBeUndefined();
  });
  it('says so when the cluster never reported', () => {
    expect(offlineClusterVerdict({ name: 'eu-2', region: 'eu', reportedAt: null }).checks[0]!.detail).toContain('offline: it has never reported;');
  });
});

describe('healthCheckQueue', () => {
  it("runs the check on the cluster's own queue while the cluster reports, drained or not", () => {
    expect(healthCheckQueue({ taskQueue: 'shipyard@eu-2', status: 'online' })).toBe('shipyard@eu-2');
    expect(healthCheckQueue({ taskQueue: 'shipyard@eu-2', status: 'draining' })).toBe('shipyard@eu-2');
  });
  it('runs it centrally for an unplaced instance, and for one whose cluster is offline (nobody serves that queue)', () => {
    expect(healthCheckQueue(undefined)).toBeUndefined();
    expect(healthCheckQueue({ taskQueue: 'shipyard@eu-2', status: 'offline' })).toBeUndefined();
  });
});
