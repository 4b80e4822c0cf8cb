// PostgreSQL from Debian's packages, as a cluster of the testbed's own under
// .shipyard/data/postgres: its own port, its own socket directory, TCP on 127.0.0.1 only.
// Two login roles: `shipyard` owns the catalogue; `shipyard_tenants` may create the
// databases and roles of tenants. Their passwords are generated once and kept under .shipyard.
// Tenant roles (members of tenantRoleGroup) may log into their own database only.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import postgresClient from 'postgres';
import { tenantRoleGroup } from '../../activities/tenant-database';
import {
  assertPortFree,
  type Component,
  daemonRunning,
  dataDir,
  delay,
  ensureDir,
  isAlive,
  logFileFor,
  portFromEnv,
  portOpen,
  readPid,
  run,
  startDaemon,
  stateDir,
  stopDaemon,
  TestbedError,
  waitFor,
} from '../runtime';

const NAME = 'postgres';
const PORT_VAR = 'SHIPYARD_POSTGRES_PORT';
const DEBIAN_PG_ROOT = '/usr/lib/postgresql';
const SUPERUSER = 'postgres';
/** Exported by `up`: the client programs (pg_dump, pg_restore) of the server's own major, for backups. */
const BIN_DIR_VAR = 'SHIPYARD_PG_BIN_DIR';

const pgData = join(dataDir, 'postgres');
const socketDir = join(stateDir, 'run', 'postgres');
const secretsFile = join(stateDir, 'secrets', 'postgres.json');

/** The login roles the testbed keeps, each with a database of the same name that it owns. */
const roles = {
  catalogue: { name: 'shipyard', attributes: 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE' },
  tenants: { name: 'shipyard_tenants', attributes: 'LOGIN NOSUPERUSER CREATEDB CREATEROLE' },
} as const;

type Passwords = Record<keyof typeof roles, string>;

function port(): number {
  return portFromEnv(PORT_VAR, 15432);
}

/** Debian installs each major under /usr/lib/postgresql/<major>/bin; a cluster must keep the major it was made with. */
function findBinDir(): string | undefined {
  if (!existsSync(DEBIAN_PG_ROOT)) return undefined;
  const usable = (major: string) =>
    existsSync(join(DEBIAN_PG_ROOT, major, 'bin', 'postgres')) && existsSync(join(DEBIAN_PG_ROOT, major, 'bin', 'initdb'));
  const versionFile = join(pgData, 'PG_VERSION');
  if (existsSync(versionFile)) {
    const major = readFileSync(versionFile, 'utf8').trim();
    if (usable(major)) return join(DEBIAN_PG_ROOT, major, 'bin');
    throw new TestbedError(
      NAME,
      `the cluster in ${pgData} was made by PostgreSQL ${major}, whose binaries are not in ${DEBIAN_PG_ROOT}/${major}/bin; ` +
        `install postgresql-${major} or run \`npm run infra:reset\` to start over`,
    );
  }
  const majors = readdirSync(DEBIAN_PG_ROOT)
    .filter((d) => /^\d+$/.test(d) && usable(d))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] && join(DEBIAN_PG_ROOT, majors[0], 'bin');
}

/** The bin dir of the major the running cluster was made with (its PG_VERSION), where its pg_dump and pg_restore are. */
function runningBinDir(): string {
  const binDir = findBinDir();
  if (!binDir) throw new TestbedError(NAME, `PostgreSQL runs but no ${DEBIAN_PG_ROOT}/<major>/bin was found for ${BIN_DIR_VAR}`);
  return binDir;
}

async function ensureBinaries(say: (m: string) => void): Promise<string> {
  const found = findBinDir();
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new TestbedError(NAME, `no PostgreSQL server under ${DEBIAN_PG_ROOT}; install Debian's postgresql package (needs root)`);
  }
  const logFile = logFileFor('postgres-install');
  say(`no PostgreSQL server under ${DEBIAN_PG_ROOT}; installing Debian's postgresql package (log: ${logFile})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run(NAME, 'apt-get', ['update'], { logFile, env, timeoutMs: 300_000 });
  await run(NAME, 'apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], { logFile, env, timeoutMs: 600_000 });
  const installed = findBinDir();
  if (!installed) throw new TestbedError(NAME, `apt-get installed postgresql but ${DEBIAN_PG_ROOT}/<major>/bin is still missing`, undefined, logFile);
  return installed;
}

/**
 * The server refuses to run as root, so as root it runs as Debian's `postgres` user;
 * anyone else runs it as themselves.
 */
function serverAccount(): { uid: number; gid: number; name: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', SUPERUSER], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', SUPERUSER], { encoding: 'utf8' }).trim());
    return { uid, gid, name: SUPERUSER };
  } catch {
    throw new TestbedError(NAME, `running as root but there is no '${SUPERUSER}' OS user to run the server as (Debian's postgresql package creates it)`);
  }
}

/** The server account must be able to walk down to its data and socket directories. */
function ensureTraversable(path: string, account: { uid: number; gid: number }, say: (m: string) => void): void {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const st = statSync(dir);
    const bit = st.uid === account.uid ? 0o100 : st.gid === account.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) {
      say(`letting the ${SUPERUSER} user pass through ${dir} (adding the search bit, not read)`);
      chmodSync(dir, (st.mode & 0o7777) | bit);
    }
    if (dir === dirname(dir)) return;
  }
}

function ownDir(path: string, mode: number, account: { uid: number; gid: number } | undefined): void {
  ensureDir(path);
  if (account) chownSync(path, account.uid, account.gid);
  chmodSync(path, mode);
}

function loadPasswords(): Passwords {
  if (existsSync(secretsFile)) {
    const stored = JSON.parse(readFileSync(secretsFile, 'utf8')) as Partial<Passwords>;
    if (stored.catalogue && stored.tenants) return stored as Passwords;
  }
  const fresh: Passwords = {
    catalogue: randomBytes(18).toString('base64url'),
    tenants: randomBytes(18).toString('base64url'),
  };
  ensureDir(dirname(secretsFile));
  chmodSync(dirname(secretsFile), 0o700);
  writeFileSync(secretsFile, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600 });
  return fresh;
}

function url(role: string, password: string, database: string): string {
  return `postgres://${role}:${encodeURIComponent(password)}@127.0.0.1:${port()}/${database}`;
}

function variables(passwords: Passwords): Record<string, string> {
  return {
    DATABASE_URL: url(roles.catalogue.name, passwords.catalogue, roles.catalogue.name),
    TENANT_DATABASE_URL: url(roles.tenants.name, passwords.tenants, roles.tenants.name),
  };
}

async function initCluster(binDir: string, account: { uid: number; gid: number; name: string } | undefined, say: (m: string) => void): Promise<void> {
  // initdb into a side directory and rename, so an interrupted init never leaves a half cluster behind.
  const staging = `${pgData}.init`;
  rmSync(staging, { recursive: true, force: true });
  ownDir(staging, 0o700, account);
  const logFile = logFileFor(NAME);
  say(`creating a new cluster in ${pgData}`);
  const initdb = [
    join(binDir, 'initdb'),
    '-D', staging,
    '-U', SUPERUSER,
    '--encoding=UTF8',
    '--locale=C',
    '--auth-local=peer',
    '--auth-host=scram-sha-256',
  ];
  if (account) await run(NAME, 'runuser', ['-u', account.name, '--', ...initdb], { logFile, timeoutMs: 120_000 });
  else await run(NAME, initdb[0]!, initdb.slice(1), { logFile, timeoutMs: 120_000 });
  renameSync(staging, pgData);
}

/**
 * Authentication is rewritten on every `up` (and reloaded when the server already runs) so a
 * cluster made by an older testbed gets the current rules: the local socket admits only the OS
 * user running the testbed (as the superuser, for set-up); TCP admits password logins from
 * loopback only, and a tenant role only into the database named like a role it is a member of
 * (`samerole`: an instance's login roles are members of its owner role, named like its database). The first
 * matching line wins: the tenant admin comes before the group lines because it is a member of
 * every tenant role, and so, indirectly, of their group.
 */
function writeAuthConfig(account: { uid: number; gid: number } | undefined): void {
  const me = userInfo().username;
  const files: [string, string][] = [
    [
      'pg_hba.conf',
      [
        '# Written by the Shipyard testbed on every `up`; edits here are overwritten.',
        `local   all        ${SUPERUSER}   peer   map=testbed`,
        `host    all        ${roles.tenants.name}   127.0.0.1/32   scram-sha-256`,
        `host    samerole   +${tenantRoleGroup}   127.0.0.1/32   scram-sha-256`,
        `host    all        +${tenantRoleGroup}   127.0.0.1/32   reject`,
        'host    all        all   127.0.0.1/32   scram-sha-256',
        '',
      ].join('\n'),
    ],
    [
      'pg_ident.conf',
      [
        '# Written by the Shipyard testbed on every start; edits here are overwritten.',
        `testbed   ${me}   ${SUPERUSER}`,
        ...(me === SUPERUSER ? [] : [`testbed   ${SUPERUSER}   ${SUPERUSER}`]),
        '',
      ].join('\n'),
    ],
  ];
  for (const [file, content] of files) {
    const path = join(pgData, file);
    writeFileSync(path, content, { mode: 0o600 });
    if (account) chownSync(path, account.uid, account.gid);
  }
}

/**
 * A server killed without a shutdown (session end, reboot) leaves postmaster.pid and the socket
 * lock behind, and PostgreSQL refuses to start while the pid in them belongs to any live
 * process, which after a reboot may be anything. Called only when our own pid file says no
 * server runs; a live postgres in that file (started outside the testbed, or on another port)
 * is reported instead of removed.
 */
function clearStaleLocks(say: (m: string) => void): void {
  const lockFiles = [join(pgData, 'postmaster.pid'), join(socketDir, `.s.PGSQL.${port()}.lock`)];
  for (const file of lockFiles) {
    if (!existsSync(file)) continue;
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && commandOf(pid).includes('postgres')) {
      throw new TestbedError(
        NAME,
        `a PostgreSQL server (pid ${pid}) the testbed did not record is using ${pgData}; stop it first`,
        undefined,
        logFileFor(NAME),
      );
    }
    say(`removing ${file}, left by a server that did not shut down`);
    rmSync(file, { force: true });
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function adminConnection() {
  return postgresClient({
    path: join(socketDir, `.s.PGSQL.${port()}`),
    username: SUPERUSER,
    database: 'postgres',
    max: 1,
    connect_timeout: 3,
    idle_timeout: 1,
    onnotice: () => {},
  });
}

/**
 * Makes both roles and their databases if absent, sets their passwords to the stored ones, and
 * takes CONNECT on every database that is not a tenant's away from PUBLIC (each keeps it for its
 * owner): the second guard, besides pg_hba.conf, that keeps tenant roles out of them, and the only
 * one a managed server (where pg_hba.conf cannot be edited) offers.
 */
async function ensureRoles(passwords: Passwords): Promise<void> {
  const sql = adminConnection();
  try {
    for (const key of Object.keys(roles) as (keyof typeof roles)[]) {
      const { name, attributes } = roles[key];
      const ident = quoteIdent(name);
      // Passwords cannot be bind parameters in ALTER ROLE; they are base64url, so quoting is enough.
      const password = `'${passwords[key].replaceAll("'", "''")}'`;
      const [exists] = await sql`SELECT 1 FROM pg_roles WHERE rolname = ${name}`;
      if (!exists) await sql.unsafe(`CREATE ROLE ${ident}`);
      await sql.unsafe(`ALTER ROLE ${ident} ${attributes} PASSWORD ${password}`);
      const [db] = await sql`SELECT 1 FROM pg_database WHERE datname = ${name}`;
      if (!db) await sql.unsafe(`CREATE DATABASE ${ident} OWNER ${ident}`);
    }
    for (const database of ['postgres', 'template1', ...Object.values(roles).map((r) => r.name)]) {
      // The owner's own privileges stay: an ACL made explicit by a REVOKE starts from the owner's defaults.
      await sql.unsafe(`REVOKE CONNECT, TEMPORARY ON DATABASE ${quoteIdent(database)} FROM PUBLIC`);
    }
  } catch (err) {
    throw new TestbedError(NAME, `could not create the shipyard roles and databases: ${(err as Error).message}`, undefined, logFileFor(NAME));
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Makes a running server read the pg_hba.conf just written, after checking that it parses: a
 * reload keeps the old rules when the file is broken, and says so only in the server's log.
 */
async function reloadAuthConfig(): Promise<void> {
  const sql = adminConnection();
  try {
    const broken = await sql<{ line_number: number; error: string }[]>`
      SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL`;
    if (broken.length > 0) {
      const lines = broken.map((r) => `line ${r.line_number}: ${r.error}`).join('; ');
      throw new TestbedError(NAME, `the pg_hba.conf just written does not parse (${lines})`, undefined, logFileFor(NAME));
    }
    await sql`SELECT pg_reload_conf()`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A real login over TCP with each role's password, as the app will make it. */
async function healthy(passwords: Passwords): Promise<boolean> {
  for (const connectionUrl of Object.values(variables(passwords))) {
    const sql = postgresClient(connectionUrl, { max: 1, connect_timeout: 3, idle_timeout: 1, onnotice: () => {} });
    try {
      await sql`SELECT 1`;
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  return true;
}

export const postgres: Component = {
  name: NAME,
  providedBy: ['DATABASE_URL', 'TENANT_DATABASE_URL'],
  alsoFromOutside: [BIN_DIR_VAR],

  async up(ctx) {
    const logFile = logFileFor(NAME);
    const passwords = loadPasswords();
    if (daemonRunning(NAME)) {
      ctx.say(`already running on 127.0.0.1:${port()}; checking it`);
      writeAuthConfig(serverAccount());
      await reloadAuthConfig();
      await ensureRoles(passwords);
      await waitFor(NAME, 'logins over TCP', () => healthy(passwords), { timeoutMs: 15_000, daemon: NAME, logFile });
      return { ...variables(passwords), [BIN_DIR_VAR]: runningBinDir() };
    }
    await assertPortFree(NAME, port(), PORT_VAR);
    const binDir = await ensureBinaries(ctx.say);
    const account = serverAccount();
    ensureDir(dataDir);
    ownDir(socketDir, 0o750, account);
    if (account) {
      ensureTraversable(pgData, account, ctx.say);
      ensureTraversable(socketDir, account, ctx.say);
    }
    if (!existsSync(join(pgData, 'PG_VERSION'))) {
      if (existsSync(pgData) && readdirSync(pgData).length > 0) {
        throw new TestbedError(NAME, `${pgData} is not empty but holds no cluster; move it away or run \`npm run infra:reset\``);
      }
      rmSync(pgData, { recursive: true, force: true });
      await initCluster(binDir, account, ctx.say);
    }
    writeAuthConfig(account);
    clearStaleLocks(ctx.say);

    ctx.say(`starting PostgreSQL (${binDir}) on 127.0.0.1:${port()}, data in ${pgData}`);
    startDaemon(
      NAME,
      join(binDir, 'postgres'),
      [
        '-D', pgData,
        '-c', 'listen_addresses=127.0.0.1',
        '-c', `port=${port()}`,
        '-c', `unix_socket_directories=${socketDir}`,
        '-c', 'password_encryption=scram-sha-256',
        // A testbed gives up durability against power loss for speed; a clean stop still keeps everything.
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        // Every test file's worker and API, and a fleet bench's pools, share this one server.
        '-c', 'max_connections=400',
      ],
      { logFile, uid: account?.uid, gid: account?.gid, cwd: pgData },
    );
    await waitFor(
      NAME,
      'the server to accept connections',
      async () => {
        const sql = adminConnection();
        try {
          await sql`SELECT 1`;
          return true;
        } finally {
          await sql.end({ timeout: 5 });
        }
      },
      { timeoutMs: 60_000, intervalMs: 200, daemon: NAME, logFile },
    );
    ctx.say(`ensuring roles ${roles.catalogue.name} and ${roles.tenants.name} and their databases`);
    await ensureRoles(passwords);
    await waitFor(NAME, 'logins over TCP', () => healthy(passwords), { timeoutMs: 15_000, daemon: NAME, logFile });
    return { ...variables(passwords), [BIN_DIR_VAR]: binDir };
  },

  async down() {
    const pid = readPid(NAME);
    if (isAlive(pid)) {
      // SIGINT is PostgreSQL's fast shutdown: it ends sessions and checkpoints, where SIGTERM would wait for every client.
      process.kill(pid!, 'SIGINT');
      const deadline = Date.now() + 30_000;
      while (isAlive(pid) && Date.now() < deadline) await delay(100);
    }
    await stopDaemon(NAME);
  },

  async status() {
    return {
      up: daemonRunning(NAME) && (await portOpen(port())),
      address: `127.0.0.1:${port()}`,
      log: logFileFor(NAME),
    };
  },
};
