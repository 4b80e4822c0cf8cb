// The Route 53 API, served by moto's server from a virtualenv cached per moto version, with
// the hosted zone of the base domain made at start-up.
//
// moto keeps its state in memory only. What it offers to carry state over is its recorder:
// with MOTO_ENABLE_RECORDING every request is appended to a file, and
// /moto-api/recorder/replay-recording sends them all again. Replaying alone would give the
// zone a new random id, so the log also holds calls to /moto-api/seed, which moto records like
// any other request: replaying one puts moto's random generator back where it was, and the zone
// and every change come back with the same ids. moto runs through moto_server.py beside this
// file, which keeps reads from moving that generator, so reads can be left out of the replay.
//
// moto_server.py also makes changes read PENDING for SHIPYARD_ROUTE53_SYNC_SECONDS (default 0)
// before INSYNC, as real Route 53 does, and takes that delay at run time too, for every zone or
// one zone: setRoute53SyncSeconds below.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateHostedZoneCommand, ListHostedZonesByNameCommand, Route53Client } from '@aws-sdk/client-route-53';
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

const NAME = 'route53';
/** The moto release every testbed moto server runs (Route 53 here, S3 in s3.ts), from one cached virtualenv. */
export const MOTO_VERSION = '5.2.5';
const PORT_VAR = 'SHIPYARD_ROUTE53_PORT';
const SYNC_SECONDS_VAR = 'SHIPYARD_ROUTE53_SYNC_SECONDS';
const SYNC_SECONDS_PATH = '/shipyard/route53/sync-seconds';
const DEFAULT_BASE_DOMAIN = 'apps.shipyard.test';
// moto checks no signatures; these only satisfy the SDK, and are never real credentials. The
// S3 component's clients use the same ones: this component exports them as AWS_*.
export const DUMMY_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
export const REGION = 'us-east-1';

const venvDir = join(cacheDir, `moto-${MOTO_VERSION}`);
const venvComplete = join(venvDir, '.shipyard-complete');
/** The python of the cached moto virtualenv; the S3 component runs its own moto server with it. */
export const motoPython = join(venvDir, 'bin', 'python');
const launcher = join(dirname(fileURLToPath(import.meta.url)), 'moto_server.py');
const recording = join(dataDir, 'route53', 'moto-recording.jsonl');

function port(): number {
  return portFromEnv(PORT_VAR, 15353);
}

function endpoint(): string {
  return `http://127.0.0.1:${port()}`;
}

/** SHIPYARD_ROUTE53_SYNC_SECONDS when set; checked here so a typo stops infra:up with its name. */
function syncSecondsFromEnv(): number | undefined {
  const raw = process.env[SYNC_SECONDS_VAR];
  if (raw === undefined || raw === '') return undefined;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new TestbedError(NAME, `${SYNC_SECONDS_VAR} must be a number of seconds (0 or more), got "${raw}"`);
  }
  return seconds;
}

/**
 * How long changes read PENDING before INSYNC on a running testbed Route 53 (moto_server.py):
 * for every zone, or (with `hostedZoneId`) for that zone only, so a test can slow its own zone
 * without slowing everyone sharing the server. `seconds: null` returns a zone to the default.
 * Not real Route 53: only the testbed's server has this endpoint.
 */
export async function setRoute53SyncSeconds(
  endpointUrl: string,
  seconds: number | null,
  hostedZoneId?: string,
): Promise<void> {
  const url = new URL(SYNC_SECONDS_PATH, endpointUrl);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ seconds, ...(hostedZoneId ? { hostedZoneId } : {}) }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new TestbedError(NAME, `could not reach ${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!response.ok) {
    const body = (await response.text()).slice(0, 300);
    // A 400 is ours (a bad value); anything else is moto answering a path it does not know.
    const hint = response.status === 400 ? '' : '; a Route 53 server started by an older testbed lacks this endpoint: restart it';
    throw new TestbedError(NAME, `${url} answered ${response.status}: ${body}${hint}`);
  }
}

function baseDomain(): string {
  return (process.env.SHIPYARD_BASE_DOMAIN || DEFAULT_BASE_DOMAIN).replace(/\.$/, '');
}

function client(): Route53Client {
  return new Route53Client({ endpoint: endpoint(), region: REGION, credentials: DUMMY_CREDENTIALS, maxAttempts: 1 });
}

let venvBuild: Promise<void> | undefined;

/**
 * Builds the cached virtualenv of moto[server] if it is missing. Shared by every component that
 * runs a moto server (Route 53, S3): their chains start side by side, so one build is made and
 * the others wait for it rather than rebuilding the same directory at once.
 */
export function ensureMotoVenv(say: (m: string) => void): Promise<void> {
  venvBuild ??= buildVenv(say).catch((err: unknown) => {
    venvBuild = undefined;
    throw err;
  });
  return venvBuild;
}

/** A virtualenv is not relocatable, so it is built in place and marked complete only at the end. */
async function buildVenv(say: (m: string) => void): Promise<void> {
  if (existsSync(venvComplete)) return;
  const python = onPath('python3');
  if (!python) throw new TestbedError('moto', 'python3 is needed to run moto and is not on PATH');
  const logFile = logFileFor('moto-install');
  say(`installing moto[server]==${MOTO_VERSION} into ${venvDir} (first time only; log: ${logFile})`);
  rmSync(venvDir, { recursive: true, force: true });
  await run('moto', python, ['-m', 'venv', venvDir], { logFile, timeoutMs: 120_000 });
  await run(
    'moto',
    join(venvDir, 'bin', 'pip'),
    ['install', '--disable-pip-version-check', '--no-input', `moto[server]==${MOTO_VERSION}`],
    { logFile, timeoutMs: 600_000 },
  );
  writeFileSync(venvComplete, `moto[server]==${MOTO_VERSION}\n`);
}

/**
 * Drops the GET requests from the recording before it is replayed. For Route 53 those are all
 * reads (list, get change, get zone): they change no state and, under moto_server.py, draw
 * nothing from the seeded generator, so the replay gives the same result and the log grows
 * only with changes, not with every poll.
 */
function compactRecording(say: (m: string) => void): number {
  if (!existsSync(recording)) return 0;
  const lines = readFileSync(recording, 'utf8').split('\n').filter((line) => line.trim() !== '');
  const kept: string[] = [];
  lines.forEach((line, index) => {
    let entry: { method?: string };
    try {
      entry = JSON.parse(line) as { method?: string };
    } catch {
      // moto writes one line per request; only the last can be cut short, by a kill mid-write.
      if (index === lines.length - 1) {
        say('dropping the last recorded request, cut short when moto was stopped');
        return;
      }
      throw new TestbedError(NAME, `line ${index + 1} of the recording ${recording} is not JSON; run \`npm run infra:reset\` to start over`);
    }
    if (entry.method !== 'GET') kept.push(line);
  });
  writeFileSync(recording, kept.length > 0 ? `${kept.join('\n')}\n` : '');
  return kept.length;
}

async function motoApi(path: string, method: 'GET' | 'POST' = 'POST'): Promise<void> {
  const response = await fetch(`${endpoint()}${path}`, { method, signal: AbortSignal.timeout(120_000) });
  const body = await response.text();
  if (!response.ok) {
    throw new TestbedError(NAME, `moto answered ${response.status} to ${method} ${path}: ${body.slice(0, 300)}`, undefined, logFileFor(NAME));
  }
}

/** Finds the base domain's zone, or makes it; returns its bare id (without /hostedzone/). */
async function ensureHostedZone(say: (m: string) => void): Promise<string> {
  const domain = baseDomain();
  const route53 = client();
  try {
    const listed = await route53.send(new ListHostedZonesByNameCommand({ DNSName: domain, MaxItems: 1 }));
    let zone = listed.HostedZones?.find((z) => z.Name === `${domain}.`);
    if (!zone) {
      say(`creating the hosted zone ${domain}`);
      // A fixed caller reference makes a retried create a conflict rather than a second zone.
      const created = await route53.send(
        new CreateHostedZoneCommand({ Name: domain, CallerReference: `shipyard-testbed:${domain}` }),
      );
      zone = created.HostedZone;
    }
    if (!zone?.Id) throw new TestbedError(NAME, `no id for the hosted zone of ${domain}`, undefined, logFileFor(NAME));
    return zone.Id.replace(/^\/hostedzone\//, '');
  } finally {
    route53.destroy();
  }
}

async function apiAnswers(): Promise<boolean> {
  const route53 = client();
  try {
    await route53.send(new ListHostedZonesByNameCommand({ MaxItems: 1 }));
    return true;
  } finally {
    route53.destroy();
  }
}

function variables(zoneId: string): Record<string, string> {
  return {
    ROUTE53_ENDPOINT: endpoint(),
    SHIPYARD_BASE_DOMAIN: baseDomain(),
    SHIPYARD_HOSTED_ZONE_ID: zoneId,
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    AWS_REGION: REGION,
  };
}

export const route53: Component = {
  name: NAME,
  providedBy: ['ROUTE53_ENDPOINT'],
  alsoFromOutside: ['SHIPYARD_BASE_DOMAIN', 'SHIPYARD_HOSTED_ZONE_ID', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION'],

  async up(ctx) {
    const logFile = logFileFor(NAME);
    const syncSeconds = syncSecondsFromEnv();
    if (daemonRunning(NAME)) {
      ctx.say(`already running at ${endpoint()}; checking it`);
      await waitFor(NAME, `the Route 53 API at ${endpoint()}`, apiAnswers, { timeoutMs: 15_000, daemon: NAME, logFile });
      if (syncSeconds !== undefined) {
        ctx.say(`changes now read PENDING for ${syncSeconds}s (${SYNC_SECONDS_VAR})`);
        await setRoute53SyncSeconds(endpoint(), syncSeconds);
      }
      return variables(await ensureHostedZone(ctx.say));
    }
    await assertPortFree(NAME, port(), PORT_VAR);
    await ensureMotoVenv(ctx.say);
    ensureDir(join(dataDir, 'route53'));
    const entries = compactRecording(ctx.say);

    ctx.say(
      `starting moto ${MOTO_VERSION} at ${endpoint()}, recording changes to ${recording}` +
        (syncSeconds ? `; changes read PENDING for ${syncSeconds}s (${SYNC_SECONDS_VAR})` : ''),
    );
    startDaemon(NAME, motoPython, [launcher, '--host', '127.0.0.1', '--port', String(port())], {
      logFile,
      env: { ...process.env, MOTO_ENABLE_RECORDING: 'true', MOTO_RECORDER_FILEPATH: recording },
    });
    await waitFor(NAME, `the Route 53 API at ${endpoint()}`, apiAnswers, { timeoutMs: 60_000, intervalMs: 250, daemon: NAME, logFile });

    if (entries > 0) {
      ctx.say(`replaying ${entries} recorded changes`);
      await motoApi('/moto-api/recorder/replay-recording');
    }
    // Recorded like any request, so the next replay resets the generator here too, whatever
    // unrecorded calls (the replay itself, recorder calls) drew from it meanwhile.
    await motoApi(`/moto-api/seed?a=${entries + 1}`);
    const zoneId = await ensureHostedZone(ctx.say);
    ctx.say(`hosted zone ${baseDomain()} is ${zoneId}`);
    return variables(zoneId);
  },

  async down() {
    await stopDaemon(NAME);
  },

  async status() {
    return {
      up: daemonRunning(NAME) && (await portOpen(port())),
      address: endpoint(),
      log: logFileFor(NAME),
    };
  },
};
