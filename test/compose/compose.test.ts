// docker-compose.yml without Docker: valid against the Compose specification's JSON schema (the
// copy dclint ships), every image pinned, Temporal at the testbed's version, the start order
// `docker compose up` relies on, the script of its bucket-making service run against the testbed's
// S3 API, and its PostgreSQL set-up (authentication rules and init script) run on the testbed's
// PostgreSQL binaries in a cluster of its own, where a tenant role made by Shipyard's own activity
// gets into its database and nowhere else.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DeleteBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Ajv } from 'ajv';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createTenantDatabaseActivities, setTenantRolePassword, tenantRoleGroup } from '../../activities/tenant-database';
import { temporalCli } from '../../testbed/components/temporal';
import { repoRoot, stateDir } from '../../testbed/runtime';
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

/** A config's content as the container sees it: Compose reads `$$` in it as a literal `$`. */
function composeContent(config: string): string {
  return String(compose.configs[config].content).replaceAll('$$', '$');
}

/** The script a service runs (`entrypoint: [sh, <path>]`), from the config mounted at that path. */
function configScript(service: Service, expected: string): string {
  const [shell, path] = service.entrypoint ?? [];
  expect(shell).toBe('sh');
  const config = service.configs?.find((c) => c.target === path);
  expect(config, `a config mounted at ${path}`).toBeDefined();
  const script = composeContent(config!.source);
  expect(script).toContain(expected);
  return script;
}

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
    expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:/);
  });

  it("runs the testbed's Temporal Server on temporalio/server, its schema set up by the same version's admin-tools, and the testbed's UI", async () => {
    // The testbed's dev server is the `temporal` CLI, which names the server and UI it embeds.
    const { stdout } = await promisify(execFile)(await temporalCli(), ['--version']);
    const [, server, ui] = /\(Server (\d+\.\d+\.\d+), UI (\d+\.\d+\.\d+)\)/.exec(stdout) ?? [];
    expect(server, stdout).toBeDefined();
    expect(services.temporal!.image).toBe(`temporalio/server:${server}`);
    for (const name of ['temporal-schema', 'temporal-namespace']) expect(services[name]!.image, name).toBe(`temporalio/admin-tools:${server}`);
    expect(services['temporal-ui']!.image).toBe(`temporalio/ui:${ui}`);
    // auto-setup is deprecated (and set up its schema as the server started).
    for (const [name, service] of Object.entries(services)) expect(service.image, name).not.toMatch(/auto-setup/);
  });

  it("sets up both of Temporal's schemas, in the databases the postgres init script makes, with the tool of the server's version", () => {
    const schema = services['temporal-schema']!;
    const script = configScript(schema, 'temporal-sql-tool');
    // temporal-sql-tool's own variables (it has no others for these).
    expect(schema.environment).toMatchObject({ SQL_PLUGIN: 'postgres12', SQL_HOST: 'postgres', SQL_USER: services.temporal!.environment!.POSTGRES_USER });
    expect(schema.environment!.SQL_PASSWORD).toBe(services.temporal!.environment!.POSTGRES_PWD);
    expect(script).toContain('setup-schema -v 0.0');
    expect(script).toContain('update-schema --schema-name "postgresql/v12/$schema"');
    expect(script).toContain('for store in temporal:temporal visibility:temporal_visibility;');
    // The server's own defaults for its two databases (DBNAME, VISIBILITY_DBNAME) are those.
    expect(services.temporal!.environment!.DBNAME).toBeUndefined();
    expect(services.temporal!.environment!.VISIBILITY_DBNAME).toBeUndefined();
    // The server needs a dynamic config file where its built-in configuration looks.
    expect(services.temporal!.configs).toEqual([{ source: 'temporal-dynamic-config', target: '/etc/temporal/config/dynamicconfig/docker.yaml' }]);
  });

  it('starts in order: postgres healthy → schema once → temporal healthy → namespace once; migrate once → api and worker', () => {
    expect(services['temporal-schema']!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(services.temporal!.depends_on).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
    expect(services['temporal-namespace']!.depends_on).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(services['temporal-ui']!.depends_on).toEqual({ temporal: { condition: 'service_healthy' } });
    // The namespace Shipyard runs in by default.
    expect(configScript(services['temporal-namespace']!, 'temporal operator namespace')).toMatch(/^namespace=default$/m);
    // The postgres health check goes over TCP: during its init script the image's server listens on its socket only.
    expect(services.postgres!.healthcheck!.test).toEqual(expect.arrayContaining(['-h', '127.0.0.1']));
    expect(services.migrate!.command).toEqual(['migrate']);
    expect(services.migrate!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    for (const name of ['api', 'worker']) {
      expect(services[name]!.command).toEqual([name]);
      expect(services[name]!.depends_on).toMatchObject({
        migrate: { condition: 'service_completed_successfully' },
        temporal: { condition: 'service_healthy' },
        'temporal-namespace': { condition: 'service_completed_successfully' },
      });
    }
    expect(Object.keys(services.api!.depends_on!).sort()).toEqual(['migrate', 'temporal', 'temporal-namespace']);
    // s3 healthy → its bucket made once → the worker, which writes the backups.
    expect(services['s3-bucket']!.depends_on).toEqual({ s3: { condition: 'service_healthy' } });
    expect(services.worker!.depends_on).toEqual({
      migrate: { condition: 'service_completed_successfully' },
      temporal: { condition: 'service_healthy' },
      'temporal-namespace': { condition: 'service_completed_successfully' },
      's3-bucket': { condition: 'service_completed_successfully' },
    });
    for (const name of ['postgres', 'temporal', 'temporal-ui', 's3', 'api', 'worker']) expect(services[name]!.healthcheck, name).toBeDefined();
    // The UI's own health endpoint, on the port the UI listens on inside its container.
    const uiPort = services['temporal-ui']!.ports![0]!.split(':').at(-1);
    expect(services['temporal-ui']!.healthcheck!.test.join(' ')).toContain(`http://127.0.0.1:${uiPort}/healthz`);
    // Temporal's frontend HTTP API (7243 by default), answering a read that needs its persistence.
    expect(services.temporal!.healthcheck!.test.join(' ')).toContain('http://127.0.0.1:7243/api/v1/namespaces');
    expect(services.temporal!.environment!.BIND_ON_IP).toBe('0.0.0.0');
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

// ---- PostgreSQL: the compose file's authentication rules and init script ----------------------
// Run in a throwaway cluster made with the testbed's PostgreSQL binaries (its own data directory,
// socket and port), so they can be applied whole (the rules replace the cluster's) without touching
// the shared testbed server. The server is started with the postgres service's own command, and the
// init script run as the image runs it: as the postgres user, over the local socket, with the
// service's environment.

const exec = promisify(execFile);

/** `postgres://<role>:${<VAR>:?…}@postgres:5432/<database>` in the compose file: who logs in where, with which password. */
function composeLogin(url: string): { role: string; passwordVar: string; database: string } {
  const [, role, passwordVar, database] = /^postgres:\/\/(\w+):\$\{(\w+):\?[^}]*\}@postgres:5432\/(\w+)$/.exec(url) ?? [];
  expect(role, url).toBeDefined();
  return { role: role!, passwordVar: passwordVar!, database: database! };
}

/** The OS account the server runs as: Debian's `postgres` when the tests run as root (the server refuses root). */
async function serverAccount(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const id = async (flag: string) => Number((await exec('id', [flag, 'postgres'])).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Logs in over TCP and returns where the session is, or rejects with the server's refusal. */
async function login(port: number, role: string, password: string, database: string): Promise<string> {
  const client = postgres({ host: '127.0.0.1', port, username: role, password, database, max: 1, connect_timeout: 5, onnotice: () => undefined });
  try {
    const [row] = await client<{ db: string }[]>`select current_database() as db`;
    return row!.db;
  } finally {
    await client.end({ timeout: 5 });
  }
}

/** The rules of a server's pg_hba file that name the tenant admin role or the tenant group, without their addresses. */
async function tenantRules(admin: postgres.Sql, tenantAdmin: string) {
  const rules = await admin<{ type: string; database: string[]; user_name: string[]; auth_method: string; error: string | null }[]>`
    select type, database, user_name, auth_method, error from pg_hba_file_rules order by line_number`;
  expect(rules.filter((r) => r.error)).toEqual([]);
  return rules
    .filter((r) => r.user_name.some((u) => u === tenantAdmin || u === `+${tenantRoleGroup}`))
    .map(({ type, database, user_name, auth_method }) => ({ type, database, user_name, auth_method }));
}

describe("docker-compose.yml's PostgreSQL: tenant roles get into their own database and nowhere else", () => {
  const service = services.postgres!;
  const env = service.environment!;
  const catalogue = composeLogin(services.api!.environment!.DATABASE_URL!);
  const tenants = composeLogin(services.api!.environment!.TENANT_DATABASE_URL!);
  // The service's secrets, as .env would give them (POSTGRES_PASSWORD is also the superuser's, which Temporal logs in with).
  const secrets: Record<string, string> = { POSTGRES_PASSWORD: randomBytes(18).toString('base64url'), TENANT_DB_PASSWORD: randomBytes(18).toString('base64url') };
  const passwordOf = (login: { passwordVar: string }) => secrets[login.passwordVar]!;
  const bin = process.env.SHIPYARD_PG_BIN_DIR;
  const dir = mkdtempSync(join(tmpdir(), 'shipyard-compose-pg-'));
  const data = join(dir, 'data');
  let account: { uid: number; gid: number } | undefined;
  let port: number;
  let admin: postgres.Sql;
  let tenantDb: postgres.Sql;

  /** Runs a program as the server's account (the image's entrypoint runs everything as postgres, through gosu). */
  const asServer = (file: string, args: string[], extra: Record<string, string> = {}) => {
    const vars = Object.entries({ PATH: `${bin}:${process.env.PATH}`, ...extra }).map(([k, v]) => `${k}=${v}`);
    return account ? exec('runuser', ['-u', 'postgres', '--', 'env', ...vars, file, ...args]) : exec('env', [...vars, file, ...args]);
  };
  /** Writes a file the server's account can read. */
  const writeOwn = (path: string, content: string) => {
    writeFileSync(path, content, { mode: 0o600 });
    if (account) chownSync(path, account.uid, account.gid);
    return path;
  };

  // The file the postgres service's command points hba_file at, and the config mounted there.
  const hbaTarget = /^hba_file=(.+)$/.exec(service.command!.find((a) => a.startsWith('hba_file='))!)?.[1];
  const hbaConfig = service.configs!.find((c) => c.target === hbaTarget)!.source;
  const hbaFile = join(dir, 'pg_hba.conf');
  const initConfig = service.configs!.find((c) => c.target.startsWith('/docker-entrypoint-initdb.d/'))!.source;
  const initScript = join(dir, 'init.sh');
  const runInit = () =>
    asServer('bash', [initScript], {
      PGHOST: dir,
      PGPORT: String(port),
      // What the image's entrypoint sets while its init scripts run.
      POSTGRES_USER: env.POSTGRES_USER!,
      PGPASSWORD: secrets.POSTGRES_PASSWORD!,
      ...secrets,
    });
  /** Makes the server read `content` as its rules; `settled` tells when it has (the postmaster rereads the file a moment after the signal). */
  const reloadRules = async (content: string, settled: () => Promise<boolean>) => {
    writeOwn(hbaFile, content);
    await admin`select pg_reload_conf()`;
    for (const deadline = Date.now() + 10_000; !(await settled()); ) {
      if (Date.now() > deadline) throw new Error('the server did not take the new pg_hba rules within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  beforeAll(async () => {
    expect(bin, 'SHIPYARD_PG_BIN_DIR (from the testbed)').toBeDefined();
    account = await serverAccount();
    if (account) chownSync(dir, account.uid, account.gid);
    port = await freePort();
    // initdb as the image's entrypoint runs it: the superuser named by POSTGRES_USER, with POSTGRES_PASSWORD.
    const pwfile = writeOwn(join(dir, 'pwfile'), `${secrets.POSTGRES_PASSWORD}\n`);
    await asServer(join(bin!, 'initdb'), ['-D', data, '-U', env.POSTGRES_USER!, `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C']);
    writeOwn(hbaFile, composeContent(hbaConfig));
    writeOwn(initScript, composeContent(initConfig));
    // The service's command, with its hba_file where this cluster keeps it, on a port of its own.
    const options = [
      ...service.command!.slice(1).map((a) => a.replace(hbaTarget!, hbaFile)),
      ...['-c', 'listen_addresses=127.0.0.1', '-c', `port=${port}`, '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off'],
    ];
    expect(service.command![0]).toBe('postgres');
    await asServer(join(bin!, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-o', options.join(' '), 'start']);
    await runInit();
    admin = postgres({ path: join(dir, `.s.PGSQL.${port}`), username: env.POSTGRES_USER!, database: 'postgres', max: 1, onnotice: () => undefined });
    tenantDb = postgres({ host: '127.0.0.1', port, username: tenants.role, password: passwordOf(tenants), database: tenants.database, max: 2, onnotice: () => undefined });
  }, 120_000);

  afterAll(async () => {
    await tenantDb?.end({ timeout: 5 });
    await admin?.end({ timeout: 5 });
    if (bin && port) await asServer(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes its passwords from the variables the postgres service is given', () => {
    const used = [...composeContent(initConfig).matchAll(/\$(\w+)/g)].map((m) => m[1]!);
    expect(new Set(used)).toEqual(new Set(['POSTGRES_PASSWORD', 'TENANT_DB_PASSWORD']));
    for (const name of used) expect(env[name], name).toBe(`\${${name}:?set ${name}}`);
    expect(services.temporal!.environment!.POSTGRES_USER).toBe(env.POSTGRES_USER);
    expect(services.temporal!.environment!.POSTGRES_PWD).toBe(env.POSTGRES_PASSWORD);
  });

  it("makes Shipyard's roles and databases and Temporal's, takes CONNECT and TEMPORARY from PUBLIC on every database, and can run again", async () => {
    const state = async () => ({
      owners: await admin<{ datname: string; owner: string }[]>`
        select d.datname, r.rolname as owner from pg_database d join pg_roles r on r.oid = d.datdba
        where d.datname in ('shipyard', 'shipyard_tenants', 'temporal', 'temporal_visibility') order by 1`,
      roles: await admin<{ rolname: string; rolcanlogin: boolean; rolcreatedb: boolean; rolcreaterole: boolean; rolsuper: boolean }[]>`
        select rolname, rolcanlogin, rolcreatedb, rolcreaterole, rolsuper from pg_roles where rolname in (${catalogue.role}, ${tenants.role}) order by 1`,
      // What PUBLIC holds on a database (an ACL left NULL means the defaults, CONNECT and TEMPORARY among them).
      public: await admin<{ datname: string; privilege_type: string }[]>`
        select d.datname, a.privilege_type from pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
        where d.datallowconn and a.grantee = 0 order by 1, 2`,
    });
    const first = await state();
    expect(first.owners).toEqual([
      { datname: catalogue.database, owner: catalogue.role },
      { datname: tenants.database, owner: tenants.role },
      { datname: 'temporal', owner: env.POSTGRES_USER },
      { datname: 'temporal_visibility', owner: env.POSTGRES_USER },
    ]);
    expect(first.roles).toEqual([
      { rolname: catalogue.role, rolcanlogin: true, rolcreatedb: false, rolcreaterole: false, rolsuper: false },
      { rolname: tenants.role, rolcanlogin: true, rolcreatedb: true, rolcreaterole: true, rolsuper: false },
    ]);
    expect(first.public).toEqual([]);
    // Everyone Shipyard and Temporal log in as still gets in where they must (each owns its database).
    expect(await login(port, catalogue.role, passwordOf(catalogue), catalogue.database)).toBe(catalogue.database);
    expect(await login(port, tenants.role, passwordOf(tenants), tenants.database)).toBe(tenants.database);
    for (const database of ['temporal', 'temporal_visibility']) {
      expect(await login(port, services.temporal!.environment!.POSTGRES_USER!, secrets.POSTGRES_PASSWORD!, database)).toBe(database);
    }
    // The catalogue role is kept out of Temporal's databases too.
    await expect(login(port, catalogue.role, passwordOf(catalogue), 'temporal')).rejects.toMatchObject({ code: '42501' });

    // Again, as on a volume made before the script had the revoke: no error, nothing changed.
    await runInit();
    expect(await state()).toEqual(first);
  });

  it("keeps a tenant role made by Shipyard's own activity out of shipyard, temporal, postgres and template1 (pg_hba rules)", async () => {
    const slug = `compose-${uniqueSuffix()}`;
    const role = `tenant_${slug.replaceAll('-', '_')}`;
    const password = randomBytes(18).toString('base64url');
    const { ensureTenantDatabase } = createTenantDatabaseActivities({ tenantDb });
    await ensureTenantDatabase(slug, { connectionLimit: 3 });
    await setTenantRolePassword(tenantDb, slug, password);
    expect(await admin`select 1 from pg_auth_members m join pg_roles g on g.oid = m.roleid join pg_roles r on r.oid = m.member
      where g.rolname = ${tenantRoleGroup} and r.rolname = ${role}`).toHaveLength(1);

    expect(await login(port, role, password, role)).toBe(role);
    const others = [catalogue.database, tenants.database, 'temporal', 'temporal_visibility', 'postgres', 'template1'];
    for (const database of others) {
      // 28000: pg_hba.conf rejects the connection, before the password is even asked for.
      await expect(login(port, role, password, database), database).rejects.toMatchObject({ code: '28000', message: expect.stringContaining('pg_hba.conf rejects') });
    }
    // A database made later (by an operator, without any revoke) is closed to it by the rules alone.
    const later = `later_${uniqueSuffix()}`;
    await admin`create database ${admin(later)}`;
    await expect(login(port, role, password, later)).rejects.toMatchObject({ code: '28000' });

    // Without the group's rules (a managed server, where pg_hba.conf is out of reach), the revoke
    // alone still keeps it out: it logs in, and is refused the database (42501).
    const compose = composeContent(hbaConfig);
    const withoutGroupRules = compose.split('\n').filter((line) => !line.includes(`+${tenantRoleGroup}`)).join('\n');
    expect(withoutGroupRules).not.toBe(compose);
    const refusal = () => login(port, role, password, catalogue.database).then(() => 'admitted', (err: { code?: string }) => err.code);
    try {
      await reloadRules(withoutGroupRules, async () => (await refusal()) !== '28000');
      expect(await login(port, role, password, role)).toBe(role);
      for (const database of others) {
        await expect(login(port, role, password, database), database).rejects.toMatchObject({ code: '42501', message: expect.stringContaining('permission denied for database') });
      }
    } finally {
      await reloadRules(compose, async () => (await refusal()) === '28000');
    }
  });

  it("writes the testbed's rules for the tenant admin role and the tenant group (testbed/components/postgres.ts), in its order", async () => {
    // The testbed's running server, over its socket as its superuser (testbed/components/postgres.ts).
    const testbedPort = new URL(process.env.DATABASE_URL!).port;
    const testbed = postgres({ path: join(stateDir, 'run', 'postgres', `.s.PGSQL.${testbedPort}`), username: 'postgres', database: 'postgres', max: 1, onnotice: () => undefined });
    try {
      const expected = await tenantRules(testbed, tenants.role);
      expect(expected.length, 'the testbed names the tenant admin role and the tenant group').toBeGreaterThanOrEqual(3);
      expect(await tenantRules(admin, tenants.role)).toEqual(expected);
    } finally {
      await testbed.end({ timeout: 5 });
    }
  });
});
