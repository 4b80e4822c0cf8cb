import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../domain/config';

const minimal = {
  DATABASE_URL: 'postgres://a@127.0.0.1/a',
  TENANT_DATABASE_URL: 'postgres://b@127.0.0.1/b',
  SHIPYARD_HOSTED_ZONE_ID: 'Z123',
};

describe('config', () => {
  it('fills defaults around the required settings', () => {
    expect(loadConfig(minimal)).toMatchObject({
      temporalAddress: '127.0.0.1:7233',
      baseDomain: 'apps.shipyard.test',
      ingressTarget: 'ingress.apps.shipyard.test',
      certIssuer: 'shipyard-ca',
      rolloutTimeoutSeconds: 600,
      unschedulableGraceSeconds: 60,
      apiPort: 8080,
      idempotencyLeaseSeconds: 60,
      idempotencyTtlHours: 24,
    });
  });

  it('keeps an idempotency lease shorter than the shortest record lifetime', () => {
    expect(loadConfig({ ...minimal, SHIPYARD_IDEMPOTENCY_LEASE_SECONDS: '3600' }).idempotencyLeaseSeconds).toBe(3600);
    expect(() => loadConfig({ ...minimal, SHIPYARD_IDEMPOTENCY_LEASE_SECONDS: '3601' })).toThrow(/SHIPYARD_IDEMPOTENCY_LEASE_SECONDS/);
    expect(() => loadConfig({ ...minimal, SHIPYARD_IDEMPOTENCY_TTL_HOURS: '0' })).toThrow(/SHIPYARD_IDEMPOTENCY_TTL_HOURS/);
  });

  it('names every wrong variable at once', () => {
    const load = () =>
      loadConfig({ ...minimal, DATABASE_URL: undefined, SHIPYARD_API_PORT: '99999', SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: 'soon' });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/DATABASE_URL/);
    expect(load).toThrow(/SHIPYARD_API_PORT/);
    expect(load).toThrow(/SHIPYARD_ROLLOUT_TIMEOUT_SECONDS/);
  });
});
