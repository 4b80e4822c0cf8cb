// The testbed: real Temporal, Postgres, Route 53 and S3 APIs and Kubernetes (+ cert-manager)
// on 127.0.0.1, built and cached by the project itself. `infraUp` is what
// `npm run infra:up`, the vitest globalSetup and the demo all call.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { certManager, certManagerComponent } from './components/cert-manager';
import { clusterLayout, kubernetes, kubernetesComponent } from './components/kubernetes';
import { postgres } from './components/postgres';
import { route53 } from './components/route53';
import { s3 } from './components/s3';
import { temporal } from './components/temporal';
import { temporalTls } from './components/temporal-tls';
import { type Component, delay, ensureDir, envFile, isAlive, stateDir, TestbedError } from './runtime';

/** Components in start order; each inner list is a chain, and chains start side by side. */
const chains: Component[][] = [[postgres], [temporal, temporalTls], [route53], [s3], [kubernetes, certManager]];
export const components: Component[] = chains.flat();

export type TestbedEnv = Record<string, string>;

/**
 * A part is provided from outside when all its trigger variables are set, and not merely to the
 * values this testbed wrote itself (a developer who sourced `.shipyard/env` still wants it managed).
 */
function providedFromOutside(component: Component): boolean {
  const ours = readEnvFile();
  // The env file copies what came from outside too; it says which parts those were, so a second
  // run with the same variables still sees them as outside, not as ours to start.
  const outsideBefore = (ours[OUTSIDE_VAR] ?? '').split(',').includes(component.name);
  return (
    component.providedBy.length > 0 &&
    component.providedBy.every((name) => !!process.env[name]) &&
    (outsideBefore || component.providedBy.some((name) => process.env[name] !== ours[name]))
  );
}

/** Written to the env file: the parts the last `up` found provided from outside. */
const OUTSIDE_VAR = 'SHIPYARD_TESTBED_OUTSIDE';

function say(component: string, message: string): void {
  console.log(`[${component}] ${message}`);
}

const lockFile = join(stateDir, 'testbed.lock');

/**
 * Runs one infra command at a time per state directory. Two `up`s side by side (two terminals,
 * two test runs) would each find a part stopped and both start it; the loser's daemon then
 * fails on the port and its pid file overwrites the winner's.
 */
async function exclusively<T>(what: string, body: () => Promise<T>): Promise<T> {
  ensureDir(stateDir);
  const deadline = Date.now() + 15 * 60_000;
  let announced = false;
  for (;;) {
    try {
      writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = lockHolder();
    if (holder === 'gone') continue;
    if (holder === 'stale') {
      rmSync(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new TestbedError('testbed', `gave up waiting for another infra command (pid ${holder || '?'}) holding ${lockFile}`);
    }
    if (!announced) say('testbed', `waiting for another infra command (pid ${holder || '?'}) to finish before ${what}`);
    announced = true;
    await delay(250);
  }
  try {
    return await body();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

/** The pid holding the lock; 'stale' when that process is gone, 'gone' when the lock was just released. */
function lockHolder(): number | 'stale' | 'gone' {
  try {
    const pid = Number(readFileSync(lockFile, 'utf8').trim());
    if (pid > 0) return isAlive(pid) ? pid : 'stale';
    // Created but not yet written by its holder, unless it has stayed empty for a while.
    return Date.now() - statSync(lockFile).mtimeMs > 5_000 ? 'stale' : 0;
  } catch {
    return 'gone';
  }
}

/** Brings every part up (idempotent), writes `.shipyard/env`, and returns its variables. */
export function infraUp(): Promise<TestbedEnv> {
  return exclusively('up', upUnlocked);
}

async function upUnlocked(): Promise<TestbedEnv> {
  const started = Date.now();
  const app = appEnv();
  const outside: string[] = [];
  const results = await Promise.allSettled(
    chains.map(async (chain) => {
      const chainEnv: TestbedEnv = {};
      for (const component of chain) {
        if (providedFromOutside(component)) {
          outside.push(component.name);
          say(component.name, `provided from outside (${component.providedBy.join(', ')}); starting nothing`);
          for (const name of [...component.providedBy, ...(component.alsoFromOutside ?? [])]) {
            if (process.env[name] !== undefined) chainEnv[name] = process.env[name]!;
          }
          continue;
        }
        const provided = await component.up({ env: { ...app, ...chainEnv }, say: (m) => say(component.name, m) });
        Object.assign(chainEnv, provided);
      }
      return chainEnv;
    }),
  );
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    const messages = failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason)));
    throw new TestbedError('testbed', `infra:up failed:\n${messages.join('\n')}`);
  }
  const env: TestbedEnv = {};
  for (const r of results) if (r.status === 'fulfilled') Object.assign(env, r.value);
  // SHIPYARD_TESTBED_CLUSTERS=2 (or more) adds named clusters beside the first, for multi-cluster work.
  for (const name of extraClusterNames()) {
    env[clusterKubeconfigVariable(name)] = (await extraClusterUp(name)).KUBECONFIG;
  }
  Object.assign(env, app);
  // The local Temporal UI decodes payloads from the browser through the API's codec endpoint;
  // the browser's origin is whichever host was typed, so both names of the loopback address.
  const ui = env.TEMPORAL_UI_URL;
  const uiOrigins = ui ? [...new Set([ui, ui.replace('//127.0.0.1:', '//localhost:')])] : [];
  const corsOrigins = process.env.SHIPYARD_CODEC_CORS_ORIGINS ?? uiOrigins.join(',');
  if (corsOrigins) env.SHIPYARD_CODEC_CORS_ORIGINS = corsOrigins;
  writeEnvFile(outside.length ? { ...env, [OUTSIDE_VAR]: outside.sort().join(',') } : env);
  say('testbed', `all parts up in ${((Date.now() - started) / 1000).toFixed(1)}s; environment in ${envFile}`);
  return env;
}

/**
 * What the app needs to find itself. The admin key and the payload encryption key are generated
 * once and kept: a new encryption key would leave every history written before unreadable.
 */
function appEnv(): TestbedEnv {
  const previous = readEnvFile();
  const kept = (name: string, fresh: () => string) => process.env[name] ?? previous[name] ?? fresh();
  const encryptionKeys = keptEncryptionKeys(previous);
  return {
    SHIPYARD_API_URL: kept('SHIPYARD_API_URL', () => 'http://127.0.0.1:8080'),
    SHIPYARD_ADMIN_KEY: kept('SHIPYARD_ADMIN_KEY', () => `sy_admin_${randomBytes(24).toString('base64url')}`),
    // Kept even by a process that runs with encryption off, which must not export them.
    ...(process.env.SHIPYARD_ENCRYPTION === 'off' ? {} : { SHIPYARD_ENCRYPTION_KEYS: encryptionKeys }),
    // The local UI has no login whose token it could forward; the codec is reachable on 127.0.0.1 only.
    SHIPYARD_CODEC_AUTH: kept('SHIPYARD_CODEC_AUTH', () => 'none'),
    // Everything on the testbed is on 127.0.0.1, webhook receivers in tests too.
    SHIPYARD_WEBHOOK_ALLOW_PRIVATE: kept('SHIPYARD_WEBHOOK_ALLOW_PRIVATE', () => 'true'),
  };
}

const encryptionKeysFile = join(stateDir, 'secrets', 'encryption-keys');

/**
 * The testbed's payload encryption keys: the ones given, else the ones kept, else a new key. They
 * are also kept apart from `.shipyard/env`, which a run with SHIPYARD_ENCRYPTION=off writes
 * without them: losing them would leave every history written before unreadable.
 */
function keptEncryptionKeys(previous: TestbedEnv): string {
  const stored = existsSync(encryptionKeysFile) ? readFileSync(encryptionKeysFile, 'utf8').trim() : '';
  const keys =
    process.env.SHIPYARD_ENCRYPTION_KEYS ||
    previous.SHIPYARD_ENCRYPTION_KEYS ||
    stored ||
    `testbed-${Date.now().toString(36)}:${randomBytes(32).toString('base64')}`;
  if (keys !== stored) {
    ensureDir(dirname(encryptionKeysFile));
    writeFileSync(encryptionKeysFile, `${keys}\n`, { mode: 0o600 });
  }
  return keys;
}

export function readEnvFile(path = envFile): TestbedEnv {
  if (!existsSync(path)) return {};
  const env: TestbedEnv = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    let value = match[2]!;
    if (value.startsWith("'") && value.endsWith("'")) value = value.slice(1, -1).replaceAll(`'\\''`, `'`);
    env[match[1]!] = value;
  }
  return env;
}

function writeEnvFile(env: TestbedEnv): void {
  const quote = (v: string) => (/^[A-Za-z0-9_./:@%+=,-]*$/.test(v) ? v : `'${v.replaceAll(`'`, `'\\''`)}'`);
  const lines = Object.keys(env)
    .sort()
    .map((key) => `${key}=${quote(env[key]!)}`);
  writeFileSync(envFile, `# written by \`npm run infra:up\`; source it with: set -a; . ${envFile}; set +a\n${lines.join('\n')}\n`, {
    mode: 0o600,
  });
}

/** Stops every process the testbed started, newest chain part first. Data is kept. */
export function infraDown(): Promise<void> {
  return exclusively('down', downUnlocked);
}

async function downUnlocked(): Promise<void> {
  await Promise.all(startedClusterNames().map((name) => extraClusterDown(name)));
  await Promise.all(
    chains.map(async (chain) => {
      for (const component of [...chain].reverse()) {
        say(component.name, 'stopping');
        await component.down();
      }
    }),
  );
}

export async function infraStatus(): Promise<{ name: string; up: boolean; address: string; log: string }[]> {
  const extras = startedClusterNames().flatMap((name) => extraCluster(name).chain);
  return Promise.all(
    [...components, ...extras].map(async (component) => {
      if (providedFromOutside(component)) {
        return { name: component.name, up: true, address: `external (${component.providedBy.join(', ')})`, log: '-' };
      }
      return { name: component.name, ...(await component.status()) };
    }),
  );
}

/** Stops everything and deletes all testbed state (data, certificates, logs); caches of builds stay. */
export async function infraReset(): Promise<void> {
  await exclusively('reset', async () => {
    await downUnlocked();
    // Everything but the lock, which `exclusively` removes last.
    for (const entry of readdirSync(stateDir)) {
      if (join(stateDir, entry) !== lockFile) rmSync(join(stateDir, entry), { recursive: true, force: true });
    }
  });
  say('testbed', `removed everything in ${stateDir}`);
}

// ---------------------------------------------------------------------------------------------
// Extra clusters, on demand

/** The names SHIPYARD_TESTBED_CLUSTERS=<n> asks for beside the first cluster: cluster-2 … cluster-<n>. */
function extraClusterNames(): string[] {
  const raw = process.env.SHIPYARD_TESTBED_CLUSTERS;
  if (raw === undefined || raw === '') return [];
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 1 || count > 9) throw new TestbedError('testbed', `SHIPYARD_TESTBED_CLUSTERS=${raw} is not a whole number from 1 to 9`);
  return Array.from({ length: count - 1 }, (_, i) => `cluster-${i + 2}`);
}

/** The variable of `.shipyard/env` that holds a named cluster's kubeconfig (KUBECONFIG_CLUSTER_2 for cluster-2). */
export function clusterKubeconfigVariable(name: string): string {
  return `KUBECONFIG_${name.toUpperCase().replaceAll('-', '_')}`;
}

/** Named clusters that have state in this testbed (started at least once), which `down` stops too. */
function startedClusterNames(): string[] {
  const dir = join(stateDir, 'clusters');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

export interface ExtraClusterOptions {
  /** Kwok nodes (default 1) and each one's capacity (default: room for a large fleet). */
  nodes?: number;
  cpu?: string;
  memory?: string;
  podsPerNode?: number;
}

function extraCluster(name: string, options: ExtraClusterOptions = {}) {
  // Ports move by ten per cluster, in the order the names sort (cluster-2 first), so two test files
  // asking for the same name always get the same ports.
  const index = Number(/(\d+)$/.exec(name)?.[1] ?? 2) - 1;
  const layout = clusterLayout(name, { ...options, index });
  return { layout, chain: [kubernetesComponent(layout), certManagerComponent(layout)] };
}

async function extraClusterUp(name: string, options: ExtraClusterOptions = {}): Promise<{ KUBECONFIG: string }> {
  const { layout, chain } = extraCluster(name, options);
  let env: TestbedEnv = {};
  for (const component of chain) env = { ...env, ...(await component.up({ env, say: (m) => say(component.name, m) })) };
  return { KUBECONFIG: layout.kubeconfigPath };
}

async function extraClusterDown(name: string): Promise<void> {
  for (const component of [...extraCluster(name).chain].reverse()) {
    say(component.name, 'stopping');
    await component.down();
  }
}

/**
 * Starts (idempotently) a named cluster beside the first one: its own etcd, apiserver, controllers,
 * kwok nodes and cert-manager on its own ports, state under `clusters/<name>/`. Names end in a
 * number from 2 (`cluster-2`), which picks its ports. Returns its kubeconfig.
 */
export function clusterUp(name: string, options: ExtraClusterOptions = {}): Promise<{ KUBECONFIG: string }> {
  return exclusively(`up of ${name}`, () => extraClusterUp(name, options));
}

/** Stops a named cluster's processes (its state stays, so the next `clusterUp` is quick). */
export function clusterDown(name: string): Promise<void> {
  return exclusively(`down of ${name}`, () => extraClusterDown(name));
}
