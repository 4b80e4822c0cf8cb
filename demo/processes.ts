// Starts Shipyard's two processes (worker and API) as children, with output prefixed, for
// `npm run dev`, `npm run demo` and the tests that kill a worker mid-operation.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { repoRoot } from '../testbed/runtime';

export interface ShipyardProcess {
  name: string;
  child: ChildProcess;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export type ShipyardCommand = 'worker' | 'api' | 'all';

/**
 * The environment the image gives Shipyard's processes beyond its configuration (the Dockerfile's
 * ENV; test/image checks that the two agree), so local runs and benches measure what deploys.
 */
export const imageProcessEnv: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--max-semi-space-size=2' };

export function startProcess(
  name: ShipyardCommand,
  env: NodeJS.ProcessEnv,
  output: (line: string) => void = (line) => console.log(line),
  /** How to run `shipyard`: from source by default, or e.g. `node dist/shipyard.js` in an image's layout. */
  shipyard: { command: string[]; cwd: string } = { command: [process.execPath, '--import', 'tsx', 'cli/main.ts'], cwd: repoRoot },
): ShipyardProcess {
  const [program, ...args] = shipyard.command;
  const child = spawn(program!, [...args, name], {
    cwd: shipyard.cwd,
    env: { ...imageProcessEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => output(`${name.padEnd(6)}| ${line}`));
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name,
    child,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Waits until `url` answers 2xx, or throws after `timeoutMs`, or as soon as `process` dies. */
export async function waitForHttp(url: string, timeoutMs: number, process?: ShipyardProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (process && process.child.exitCode !== null) throw new Error(`${process.name} exited (code ${process.child.exitCode}) before ${url} answered`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000}s (last: ${last})`);
}
