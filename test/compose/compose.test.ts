// docker-compose.yml without Docker: valid against the Compose specification's JSON schema (the
// copy dclint ships), every image pinned, and the start order `docker compose up` relies on.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../../testbed/runtime';

// dclint's package exports do not include the file, so it is read by path.
const schema = JSON.parse(readFileSync(join(repoRoot, 'node_modules/dclint/schemas/compose.schema.json'), 'utf8'));
// Merge keys (`<<: *shipyard`) are resolved the way Compose resolves them.
const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true });

interface Service {
  image: string;
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  environment?: Record<string, string>;
  secrets?: string[];
  ports?: string[];
}
const services = compose.services as Record<string, Service>;

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    // The schema names draft-07 by an https URL Ajv does not know; Ajv's default draft is draft-07.
    const { $schema: _draft, ...draft07 } = schema;
    const validate = ajv.compile(draft07);
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);
  });

  it('pins every image to a version', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(service.image, name).toMatch(/^[\w./-]+:(?!latest$)[\w.-]*\d[\w.-]*$/);
    }
    expect(services.temporal!.image).toMatch(/^temporalio\//);
    expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:/);
  });

  it('starts in order: postgres healthy → temporal healthy, migrate once → api and worker', () => {
    expect(services.temporal!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(services.migrate!.command).toEqual(['migrate']);
    expect(services.migrate!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    for (const name of ['api', 'worker']) {
      expect(services[name]!.command).toEqual([name]);
      expect(services[name]!.depends_on).toEqual({
        migrate: { condition: 'service_completed_successfully' },
        temporal: { condition: 'service_healthy' },
      });
    }
    for (const name of ['postgres', 'temporal', 'api', 'worker']) expect(services[name]!.healthcheck, name).toBeDefined();
    expect(services.api!.healthcheck!.test.join(' ')).toContain(':8080/healthz');
    expect(services.worker!.healthcheck!.test.join(' ')).toContain(':9464/healthz');
  });

  it('gives Shipyard the settings it cannot start without, and the kubeconfig as a mounted file to the worker alone', () => {
    for (const name of ['migrate', 'api', 'worker']) {
      expect(Object.keys(services[name]!.environment!), name).toEqual(
        expect.arrayContaining(['DATABASE_URL', 'TENANT_DATABASE_URL', 'TEMPORAL_ADDRESS', 'SHIPYARD_HOSTED_ZONE_ID', 'SHIPYARD_ENCRYPTION_KEYS']),
      );
    }
    expect(services.worker!.environment!.KUBECONFIG).toBe('/run/secrets/kubeconfig');
    expect(services.worker!.secrets).toEqual(['kubeconfig']);
    for (const name of ['migrate', 'api']) {
      expect(services[name]!.environment!.KUBECONFIG, name).toBeUndefined();
      expect(services[name]!.secrets, name).toBeUndefined();
    }
    expect(compose.secrets.kubeconfig.file).toContain('KUBECONFIG_FILE');
  });

  it("points the Temporal UI at the API's codec server, which admits exactly the UI's origins", () => {
    const codec = new URL(services['temporal-ui']!.environment!.TEMPORAL_CODEC_ENDPOINT!);
    expect(codec.pathname).toBe('/codec');
    const published = (service: string) => services[service]!.ports!.map((p) => String(p).split(':').slice(0, 2).join(':'));
    expect(published('api')).toContain(`${codec.hostname}:${codec.port}`);
    const origins = String(services.api!.environment!.SHIPYARD_CODEC_CORS_ORIGINS).split(',');
    for (const origin of origins) expect(published('temporal-ui')).toContain(`127.0.0.1:${new URL(origin).port}`);
    expect(origins).not.toContain('*');
  });
});
