// An instance's verdict from its checks.
import { describe, expect, it } from 'vitest';
import { healthOf } from '../../domain/health';

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
