import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, settings } from '../../domain/config';
import { settingsTable, TABLE_END, TABLE_START } from '../../domain/settings';

const minimal = {
  DATABASE_URL: 'postgres://a@127.0.0.1/a',
  TENANT_DATABASE_URL: 'postgres://b@127.0.0.1/b',
  SHIPYARD_HOSTED_ZONE_ID: 'Z123',
  SHIPYARD_BACKUP_BUCKET: 'tenant-backups',
  SHIPYARD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
};
const keyB = Buffer.alloc(32, 2).toString('base64');

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

  it('names the variable and the field of a bad JSON setting', () => {
    const load = () => loadConfig({ ...minimal, SHIPYARD_AUTO_ROLLOUT_STRATEGY: '{"maxParallel":0}', SHIPYARD_AUTO_ROLLOUT_SELECTOR: '{"tier":["a"]}' });
    expect(load).toThrow(/SHIPYARD_AUTO_ROLLOUT_STRATEGY: maxParallel must be >= 1/);
    expect(load).toThrow(/SHIPYARD_AUTO_ROLLOUT_SELECTOR: tier is not a known field/);
  });

  it('documents every setting in the README, as declared', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf(TABLE_START);
    const end = readme.indexOf(TABLE_END);
    expect(start, `README.md lacks the ${TABLE_START} … ${TABLE_END} markers`).toBeGreaterThanOrEqual(0);
    const written = readme.slice(start + TABLE_START.length, end).trim().split('\n');
    const declared = settingsTable(settings).split('\n');
    const differences = [
      ...written.filter((row) => !declared.includes(row)).map((row) => `  README only:   ${row}`),
      ...declared.filter((row) => !written.includes(row)).map((row) => `  declared only: ${row}`),
    ];
    if (differences.length === 0 && written.join('\n') !== declared.join('\n')) differences.push('  the same rows in another order');
    expect(differences, `README.md's settings table differs from domain/config.ts; run \`npm run docs:config\`:\n${differences.join('\n')}`).toEqual([]);
  });

  describe('payload encryption', () => {
    it('reads the keys in order: the first encrypts, all decrypt', () => {
      const config = loadConfig({ ...minimal, SHIPYARD_ENCRYPTION_KEYS: ` k2:${keyB} , ${minimal.SHIPYARD_ENCRYPTION_KEYS}` });
      expect(config.encryptionKeys.map((k) => k.id)).toEqual(['k2', 'k1']);
      expect(config.codecAuth).toBe('api-key');
      expect(config.codecCorsOrigins).toEqual([]);
    });

    it('refuses to start without keys unless encryption is turned off explicitly', () => {
      expect(() => loadConfig({ ...minimal, SHIPYARD_ENCRYPTION_KEYS: undefined })).toThrow(/SHIPYARD_ENCRYPTION_KEYS: is not set.*SHIPYARD_ENCRYPTION=off/);
      expect(loadConfig({ ...minimal, SHIPYARD_ENCRYPTION_KEYS: undefined, SHIPYARD_ENCRYPTION: 'off' }).encryptionKeys).toEqual([]);
      expect(() => loadConfig({ ...minimal, SHIPYARD_ENCRYPTION: 'off' })).toThrow(/SHIPYARD_ENCRYPTION_KEYS: is set while SHIPYARD_ENCRYPTION=off/);
      expect(() => loadConfig({ ...minimal, SHIPYARD_ENCRYPTION: 'no' })).toThrow(/SHIPYARD_ENCRYPTION: must be "on"/);
    });

    it('names the entry and key id of every bad key, never the key material', () => {
      const short = Buffer.alloc(16, 3).toString('base64');
      const load = () => loadConfig({ ...minimal, SHIPYARD_ENCRYPTION_KEYS: `a:${short},nocolon,b c:${keyB},k1:${keyB},k1:${keyB}` });
      expect(load).toThrow(/entry 1 \(key id "a"\): the key must be base64 of exactly 32 bytes/);
      expect(load).toThrow(/entry 2 is not `<id>:<base64 of 32 random bytes>`/);
      expect(load).toThrow(/entry 3: key id "b c" may only hold/);
      expect(load).toThrow(/entry 5: key id "k1" is listed twice/);
      expect(load).not.toThrow(new RegExp(short.replace(/[+/=]/g, '.')));
    });

    it('allows exactly the listed codec CORS origins, never *', () => {
      const config = loadConfig({ ...minimal, SHIPYARD_CODEC_CORS_ORIGINS: 'http://127.0.0.1:8233, https://ui.example.com' });
      expect(config.codecCorsOrigins).toEqual(['http://127.0.0.1:8233', 'https://ui.example.com']);
      expect(() => loadConfig({ ...minimal, SHIPYARD_CODEC_CORS_ORIGINS: '*' })).toThrow(/"\*" is not allowed/);
      expect(() => loadConfig({ ...minimal, SHIPYARD_CODEC_CORS_ORIGINS: 'https://ui.example.com/' })).toThrow(/is not an origin/);
      expect(() => loadConfig({ ...minimal, SHIPYARD_CODEC_AUTH: 'oidc' })).toThrow(/SHIPYARD_CODEC_AUTH/);
    });
  });
});
