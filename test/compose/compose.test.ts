// docker-compose.yml without Docker: valid against the Compose specification's JSON schema (the
// copy dclint ships), every image pinned, the start order `docker compose up` relies on, and the
// script of its bucket-making service run against the testbed's S3 API.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DeleteBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../../testbed/runtime';
import { uniqueSuffix } from '../support/config';
import { instructionsOf, parseDockerfile } from '../support/dockerfile';

// dclint's package exports do not include the file, so it is read by path.
const schema = JSON.parse(readFileSync(join(repoRoot, 'node_modules/dclint/schemas/compose.schema.json'), 'utf8'));
// Merge keys (`<<: *shipyard`) are resolved the way Compose resolves them.
const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true });

interface Service {
  image: string;
  command?: string[];
  entrypoint?: string[];
  configs?: { source: string; target: string }[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  environment?: Record<string, string>;
  secrets?: string[];
  ports?: string[];
}
const services = compose.services as Record<string, Service>;
const image = parseDockerfile(join(repoRoot, 'Dockerfile')).at(-1)!;

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
      expect(services[name]!.depends_on).toMatchObject({
        migrate: { condition: 'service_completed_successfully' },
        temporal: { condition: 'service_healthy' },
      });
    }
    expect(Object.keys(services.api!.depends_on!).sort()).toEqual(['migrate', 'temporal']);
    // s3 healthy → its bucket made once → the worker, which writes the backups.
    expect(services['s3-bucket']!.depends_on).toEqual({ s3: { condition: 'service_healthy' } });
    expect(services.worker!.depends_on).toEqual({
      migrate: { condition: 'service_completed_successfully' },
      temporal: { condition: 'service_healthy' },
      's3-bucket': { condition: 'service_completed_successfully' },
    });
    for (const name of ['postgres', 'temporal', 's3', 'api', 'worker']) expect(services[name]!.healthcheck, name).toBeDefined();
    expect(services.api!.healthcheck!.test.join(' ')).toContain(':8080/healthz');
    expect(services.worker!.healthcheck!.test.join(' ')).toContain(':9464/healthz');
  });

  it('gives Shipyard the settings it cannot start without, and the kubeconfig as a mounted file to the worker alone', () => {
    for (const name of ['migrate', 'api', 'worker']) {
      expect(Object.keys(services[name]!.environment!), name).toEqual(
        expect.arrayContaining(['DATABASE_URL', 'TENANT_DATABASE_URL', 'TEMPORAL_ADDRESS', 'SHIPYARD_HOSTED_ZONE_ID', 'SHIPYARD_ENCRYPTION_KEYS', 'SHIPYARD_BACKUP_BUCKET']),
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

  it("runs a PostgreSQL the image's pg_dump can back up: a major no newer than the image's client", () => {
    const clientMajor = Number(/postgresql-client-(\d+)\b/.exec(instructionsOf(image, 'RUN').join('\n'))?.[1]);
    const serverMajor = Number(/^postgres:(\d+)[.-]/.exec(services.postgres!.image)?.[1]);
    expect(clientMajor, 'the Dockerfile installs postgresql-client-<major>').toBeGreaterThan(0);
    expect(serverMajor, services.postgres!.image).toBeGreaterThan(0);
    expect(serverMajor).toBeLessThanOrEqual(clientMajor);
  });

  it('gives Shipyard an S3 gateway for backups that accepts the one AWS key pair Shipyard signs with', () => {
    const s3 = services.s3!;
    const env = services.worker!.environment!;
    const endpoint = new URL(env.SHIPYARD_S3_ENDPOINT!);
    expect(endpoint.hostname).toBe('s3');
    // The gateway listens where Shipyard looks, and answers its health check there.
    expect(s3.command).toEqual(expect.arrayContaining(['--port', `:${endpoint.port}`]));
    expect(s3.healthcheck!.test.join(' ')).toContain(`:${endpoint.port}/health`);
    // Shipyard's S3 and Route 53 clients share the AWS SDK's credentials: the gateway's account is that pair, in that region.
    expect(s3.environment).toMatchObject({
      ROOT_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
      ROOT_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
      VGW_REGION: env.AWS_REGION,
    });
    expect(env.AWS_ACCESS_KEY_ID).toMatch(/^\$\{AWS_ACCESS_KEY_ID:\?/);
    // Objects outlive the container.
    expect(s3.volumes!.map((v) => v.split(':')[0])).toEqual(Object.keys(compose.volumes).filter((v) => v.startsWith('s3')));
    for (const name of ['migrate', 'api', 'worker', 's3-bucket']) {
      expect(services[name]!.environment, name).toMatchObject({
        SHIPYARD_S3_ENDPOINT: env.SHIPYARD_S3_ENDPOINT,
        SHIPYARD_BACKUP_BUCKET: env.SHIPYARD_BACKUP_BUCKET,
        AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
      });
    }
    // The bucket service runs its script from the image's WORKDIR, where node finds the AWS SDK.
    const bucketService = services['s3-bucket']!;
    const workdir = instructionsOf(image, 'WORKDIR').at(-1)!;
    expect(bucketService.entrypoint).toEqual(['node', 'ensure-bucket.cjs']);
    expect(bucketService.configs).toEqual([{ source: 's3-bucket', target: `${workdir}/ensure-bucket.cjs` }]);
  });

  it("makes the bucket with the s3-bucket service's script, and leaves one that is there alone (against the testbed's S3)", async () => {
    // Compose reads `$$` in a config's content as a literal `$`.
    const script = String(compose.configs['s3-bucket'].content).replaceAll('$$', '$');
    const bucket = `compose-${uniqueSuffix()}`;
    const env = {
      PATH: process.env.PATH,
      NODE_NO_WARNINGS: '1',
      SHIPYARD_S3_ENDPOINT: process.env.SHIPYARD_S3_ENDPOINT,
      SHIPYARD_BACKUP_BUCKET: bucket,
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
    };
    // `node -e` resolves require() from its working directory, as the service does from /app.
    const run = () => promisify(execFile)(process.execPath, ['-e', script], { cwd: repoRoot, env });
    const s3 = new S3Client({ endpoint: env.SHIPYARD_S3_ENDPOINT, region: env.AWS_REGION, forcePathStyle: true });
    try {
      expect((await run()).stdout).toContain(`bucket ${bucket} at ${env.SHIPYARD_S3_ENDPOINT}: created`);
      await expect(s3.send(new HeadBucketCommand({ Bucket: bucket }))).resolves.toBeDefined();
      expect((await run()).stdout).toContain(': there already');
      // A store it cannot reach fails the service (and so holds the worker back), naming the bucket.
      await expect(
        promisify(execFile)(process.execPath, ['-e', script], { cwd: repoRoot, env: { ...env, SHIPYARD_S3_ENDPOINT: 'http://127.0.0.1:1' } }),
      ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining(`bucket ${bucket} at http://127.0.0.1:1`) });
    } finally {
      await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
      s3.destroy();
    }
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
