// The few things every testbed component needs: where state and caches live,
// how to run a build step, how to start/stop a daemon tracked by a pid file,
// and bounded waits. Components never find processes by name.
import { spawn, type SpawnOptions } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const stateDir = resolve(process.env.SHIPYARD_STATE_DIR ?? join(repoRoot, '.shipyard'));
export const cacheDir = resolve(process.env.SHIPYARD_CACHE_DIR ?? join(homedir(), '.cache', 'shipyard'));
export const envFile = join(stateDir, 'env');
export const logDir = join(stateDir, 'logs');
export const pidDir = join(stateDir, 'pids');
export const dataDir = join(stateDir, 'data');

export function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

/** A failure that tells the user which component broke, what ran and where to look. */
export class TestbedError extends Error {
  constructor(
    readonly component: string,
    message: string,
    readonly command?: string,
    readonly logFile?: string,
  ) {
    super(
      [`[${component}] ${message}`, command && `  command: ${command}`, logFile && `  log: ${logFile}`]
        .filter(Boolean)
        .join('\n'),
    );
  }
}

export interface Component {
  name: string;
  /** Variables that, when already set in the environment, mean the part is provided from outside. */
  providedBy: string[];
  /** Further variables of this part that, when it is provided from outside, are taken from the environment too. */
  alsoFromOutside?: string[];
  /** Builds what is missing, starts what is not running, waits until healthy; returns the variables it provides. */
  up(ctx: UpContext): Promise<Record<string, string>>;
  /** Stops exactly the processes this component started (by pid file). */
  down(): Promise<void>;
  status(): Promise<ComponentStatus>;
}

export interface UpContext {
  /**
   * Variables provided by components started earlier in the same chain (e.g. KUBECONFIG for
   * cert-manager), and the app's own (SHIPYARD_API_URL, for Temporal's UI codec endpoint).
   */
  env: Record<string, string>;
  say(message: string): void;
}

export interface ComponentStatus {
  up: boolean;
  address: string;
  log: string;
}

export function logFileFor(name: string): string {
  return join(ensureDir(logDir), `${name}.log`);
}

function pidFileFor(name: string): string {
  return join(ensureDir(pidDir), `${name}.pid`);
}

/** Runs a command to completion with its output appended to `logFile`; throws a TestbedError naming it on failure. */
export async function run(
  component: string,
  command: string,
  args: string[],
  options: { logFile: string; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<void> {
  const printable = [command, ...args].join(' ');
  const fd = openSync(options.logFile, 'a');
  writeFileSync(fd, `\n$ ${printable}\n`);
  try {
    await new Promise<void>((resolvePromise, reject) => {
      const child = spawn(command, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ['ignore', fd, fd],
      });
      const timer = options.timeoutMs
        ? setTimeout(() => {
            child.kill('SIGKILL');
            reject(new TestbedError(component, `timed out after ${options.timeoutMs} ms`, printable, options.logFile));
          }, options.timeoutMs)
        : undefined;
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new TestbedError(component, `could not run: ${err.message}`, printable, options.logFile));
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolvePromise();
        else reject(new TestbedError(component, `failed (${signal ?? `exit ${code}`})`, printable, options.logFile));
      });
    });
  } finally {
    closeSync(fd);
  }
}

/**
 * The pid recorded under `name`, or undefined when there is none or it now belongs to another
 * process: after a reboot or an abrupt end of a session the file outlives its process, and its
 * pid may have been handed to something else, which must be neither trusted nor signalled.
 */
export function readPid(name: string): number | undefined {
  const file = pidFileFor(name);
  if (!existsSync(file)) return undefined;
  const [rawPid, recordedStart] = readFileSync(file, 'utf8').trim().split(/\s+/);
  const pid = Number(rawPid);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (recordedStart !== undefined) {
    const actualStart = processStartTime(pid);
    if (actualStart !== undefined && actualStart !== recordedStart) return undefined;
  }
  return pid;
}

/** The kernel's start time of a process (clock ticks since boot), where /proc has it. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command) may hold spaces and parentheses; fields after the last ')' start at field 3.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every daemon the testbed has recorded and that still runs, by name (`temporal`, `kube-apiserver`, ...). */
export function runningDaemons(): { name: string; pid: number }[] {
  if (!existsSync(pidDir)) return [];
  return readdirSync(pidDir)
    .filter((file) => file.endsWith('.pid'))
    .map((file) => file.slice(0, -'.pid'.length))
    .map((name) => ({ name, pid: readPid(name) }))
    .filter((d): d is { name: string; pid: number } => isAlive(d.pid));
}

/** True when the daemon recorded under `name` is still running. */
export function daemonRunning(name: string): boolean {
  return isAlive(readPid(name));
}

/**
 * Starts a long-running process detached from this one (so it outlives `infra:up`),
 * output to its log file, pid recorded under `name`.
 */
export function startDaemon(
  name: string,
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; logFile?: string; uid?: number; gid?: number } = {},
): number {
  const logFile = options.logFile ?? logFileFor(name);
  const fd = openSync(logFile, 'a');
  writeFileSync(fd, `\n--- ${new Date().toISOString()} $ ${[command, ...args].join(' ')}\n`);
  const spawnOptions: SpawnOptions = {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', fd, fd],
    detached: true,
    uid: options.uid,
    gid: options.gid,
  };
  const child = spawn(command, args, spawnOptions);
  closeSync(fd);
  if (!child.pid) throw new TestbedError(name, 'could not start', [command, ...args].join(' '), logFile);
  child.unref();
  const started = processStartTime(child.pid);
  writeFileSync(pidFileFor(name), started ? `${child.pid} ${started}\n` : `${child.pid}\n`);
  return child.pid;
}

/** Stops the daemon recorded under `name`: SIGTERM, then SIGKILL after `graceMs`. Missing or dead is fine. */
export async function stopDaemon(name: string, graceMs = 15_000): Promise<void> {
  const pid = readPid(name);
  if (isAlive(pid)) {
    // Detached daemons lead their own process group; signal the group so helpers they forked go too.
    signal(pid!, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (isAlive(pid) && Date.now() < deadline) await delay(100);
    if (isAlive(pid)) signal(pid!, 'SIGKILL');
    while (isAlive(pid)) await delay(50);
  }
  rmSync(pidFileFor(name), { force: true });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Polls `check` until it returns a truthy value or `timeoutMs` passes. While waiting on a daemon,
 * pass its name so a crash is reported at once instead of after the timeout.
 */
export async function waitFor<T>(
  component: string,
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs: number; intervalMs?: number; daemon?: string; logFile?: string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (options.daemon && !daemonRunning(options.daemon)) {
      throw new TestbedError(component, `process exited while waiting for ${what}`, undefined, options.logFile);
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new TestbedError(component, `timed out after ${options.timeoutMs / 1000}s waiting for ${what}${detail}`, undefined, options.logFile);
    }
    await delay(options.intervalMs ?? 250);
  }
}

/** Resolves true when something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ port, host });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolvePromise(false);
    });
    socket.once('error', () => resolvePromise(false));
  });
}

/** Refuses to start on a port some other program already holds, naming the variable that moves it. */
export async function assertPortFree(component: string, port: number, overrideVar: string): Promise<void> {
  if (await portOpen(port)) {
    throw new TestbedError(
      component,
      `port ${port} on 127.0.0.1 is already in use by a process the testbed did not start; stop it or set ${overrideVar} to another port`,
    );
  }
}

export function portFromEnv(variable: string, fallback: number): number {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TestbedError('testbed', `${variable}=${raw} is not a TCP port`);
  }
  return port;
}

/** Finds an executable on PATH. */
export function onPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir, binary);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}
