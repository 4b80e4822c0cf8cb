// Temporal connections from the standard client configuration: the TOML profile and the
// TEMPORAL_* variables, read once at boot into the Config, and the options every connection
// gets from it. (Real TLS: test/e2e/temporal-tls.test.ts.)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../domain/config';
import { explainConnectionFailure, temporalConnectionOptions } from '../../temporal/connection';

const minimal = {
  DATABASE_URL: 'postgres://a@127.0.0.1/a',
  TENANT_DATABASE_URL: 'postgres://b@127.0.0.1/b',
  SHIPYARD_HOSTED_ZONE_ID: 'Z123',
  SHIPYARD_BACKUP_BUCKET: 'tenant-backups',
  SHIPYARD_ENCRYPTION: 'off',
};
const dir = mkdtempSync(join(tmpdir(), 'shipyard-temporal-'));
const pem = (name: string) => {
  const path = join(dir, name);
  writeFileSync(path, `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n`);
  return path;
};
const [ca, cert, key] = [pem('ca.pem'), pem('client.pem'), pem('client.key')];
const configFile = join(dir, 'temporal.toml');
writeFileSync(
  configFile,
  `[profile.default]
address = "temporal.internal:7233"
namespace = "shipyard"

[profile.cloud]
address = "shipyard.a1b2c.tmprl.cloud:7233"
namespace = "shipyard.a1b2c"
api_key = "cloud-key"

[profile.mtls]
address = "temporal.internal:7233"
[profile.mtls.tls]
server_ca_cert_path = "${ca}"
client_cert_path = "${cert}"
client_key_path = "${key}"
server_name = "temporal.example.com"
`,
);
const load = (env: Record<string, string>) => loadConfig({ ...minimal, ...env });
const bytes = (path: string) => new Uint8Array(Buffer.from(`-----BEGIN CERTIFICATE-----\n${path.split('/').at(-1)}\n-----END CERTIFICATE-----\n`));

describe('Temporal connection settings', () => {
  it('without any configuration: the plain dev server at 127.0.0.1:7233, namespace default', () => {
    const config = load({});
    expect([config.temporalAddress, config.temporalNamespace]).toEqual(['127.0.0.1:7233', 'default']);
    expect(temporalConnectionOptions(config)).toEqual({ address: '127.0.0.1:7233' });
  });

  it("takes address and namespace from the profile file's default profile; the variables win", () => {
    const config = load({ TEMPORAL_CONFIG_FILE: configFile });
    expect([config.temporalAddress, config.temporalNamespace]).toEqual(['temporal.internal:7233', 'shipyard']);
    const over = load({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_ADDRESS: '10.0.0.5:7233', TEMPORAL_NAMESPACE: 'other' });
    expect([over.temporalAddress, over.temporalNamespace]).toEqual(['10.0.0.5:7233', 'other']);
  });

  it('finds the file where the CLI does, under the config home', () => {
    const home = mkdtempSync(join(tmpdir(), 'shipyard-home-'));
    const file = join(home, '.config', 'temporalio', 'temporal.toml');
    mkdirSync(join(home, '.config', 'temporalio'), { recursive: true });
    writeFileSync(file, '[profile.default]\naddress = "from-home:7233"\n');
    expect(load({ HOME: home }).temporalAddress).toBe('from-home:7233');
  });

  it('an API key (Temporal Cloud) turns TLS on with the system CAs', () => {
    const config = load({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'cloud' });
    expect(temporalConnectionOptions(config)).toEqual({ address: 'shipyard.a1b2c.tmprl.cloud:7233', apiKey: 'cloud-key', tls: true });
    expect(config.temporalNamespace).toBe('shipyard.a1b2c');
    expect(temporalConnectionOptions(load({ TEMPORAL_ADDRESS: 'x:7233', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' })).tls).toBeFalsy();
  });

  it('mTLS from a profile or from TEMPORAL_TLS_* variables gives the same options', () => {
    const fromProfile = temporalConnectionOptions(load({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'mtls' }));
    const fromVariables = temporalConnectionOptions(
      load({
        TEMPORAL_ADDRESS: 'temporal.internal:7233',
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
        TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: key,
        TEMPORAL_TLS_SERVER_NAME: 'temporal.example.com',
      }),
    );
    const expected = {
      address: 'temporal.internal:7233',
      tls: { serverNameOverride: 'temporal.example.com', serverRootCACertificate: bytes(ca), clientCertPair: { crt: bytes(cert), key: bytes(key) } },
    };
    expect(fromProfile).toEqual(expected);
    expect(fromVariables).toEqual(expected);
    // PEM given inline (…_DATA) instead of a path.
    const inline = load({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_TLS_SERVER_CA_CERT_DATA: 'CA PEM' });
    expect(temporalConnectionOptions(inline).tls).toEqual({ serverRootCACertificate: new Uint8Array(Buffer.from('CA PEM')) });
  });

  it('an empty variable counts as unset (compose passes unset ones through empty)', () => {
    const config = load({ TEMPORAL_API_KEY: '', TEMPORAL_TLS_CLIENT_CERT_PATH: '', TEMPORAL_TLS_CLIENT_KEY_PATH: '', TEMPORAL_PROFILE: '' });
    expect(temporalConnectionOptions(config)).toEqual({ address: '127.0.0.1:7233' });
  });

  it('stops at boot, naming the variable, on what would fail or be ignored at connection time', () => {
    const problems = (env: Record<string, string>) => {
      try {
        load(env);
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(problems({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'staging' })).toMatch(/TEMPORAL_PROFILE=staging: .*Profile 'staging' not found/);
    expect(problems({ TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'absent.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: key })).toMatch(
      /TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read .*absent\.pem \(ENOENT\)/,
    );
    expect(problems({ TEMPORAL_TLS_CLIENT_CERT_PATH: cert })).toMatch(/set without its key: set TEMPORAL_TLS_CLIENT_KEY_PATH/);
    expect(problems({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' })).toMatch(/TEMPORAL_TLS_DISABLE_HOST_VERIFICATION .*TEMPORAL_TLS_SERVER_NAME/);
    expect(problems({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'false' })).toBe('');
  });
});

describe('a refused connection', () => {
  const options = { address: 'shipyard.a1b2c.tmprl.cloud:7233', apiKey: 'k', tls: true };
  const grpcError = (code: number, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details });

  it('says unauthorized or permission denied in one line naming the address', async () => {
    expect((await explainConnectionFailure(grpcError(16, 'UNAUTHENTICATED: Request unauthorized'), options)).message).toBe(
      'cannot connect to Temporal at shipyard.a1b2c.tmprl.cloud:7233: unauthorized: the server refused the API key (TEMPORAL_API_KEY) (16 UNAUTHENTICATED: Request unauthorized)',
    );
    const denied = await explainConnectionFailure(new Error('Failed', { cause: grpcError(7, 'PERMISSION_DENIED: no access') }), options, 'shipyard.a1b2c');
    expect(denied.message).toMatch(/^cannot connect to Temporal at shipyard\.a1b2c\.tmprl\.cloud:7233: permission denied on namespace shipyard\.a1b2c for the API key/);
    expect(denied.message).not.toContain('\n');
  });
});
