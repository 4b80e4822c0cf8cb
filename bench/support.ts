// What every bench shares: Shipyard's two processes on the local testbed (on a task queue of
// their own, so a dev worker elsewhere takes none of the bench's work), a client for its API,
// and the resident memory of a process.
import { readFileSync } from 'node:fs';
import { startShipyard } from '../demo/dev';
import { infraUp } from '../testbed/index';
import { removeSchedules } from '../worker/schedules';

export type Shipyard = Awaited<ReturnType<typeof startShipyard>>;

export async function startBenchShipyard(
  overrides: NodeJS.ProcessEnv = {},
  shipyard?: Parameters<typeof startShipyard>[2],
): Promise<Shipyard & { call: ApiCall; settle: (operationId: string) => Promise<string> }> {
  // The testbed's default fake nodes (3 × 110 pods) suit the tests; a bench's fleet, next to what
  // tests left on a shared testbed, needs more room, which the testbed takes as infraUp runs.
  process.env.SHIPYARD_KWOK_PODS_PER_NODE ??= '700';
  const testbed = await infraUp();
  // The bench's own clients (its leftover checks) talk to the same testbed as the processes it
  // starts; the AWS SDK, for one, reads its credentials from the environment.
  for (const [name, value] of Object.entries(testbed)) process.env[name] ??= value;
  const env = { ...process.env, SHIPYARD_TASK_QUEUE: `bench-${Date.now().toString(36)}`, ...overrides };
  const started = await startShipyard(env, () => () => {}, shipyard);
  const call: ApiCall = async (method, path, body) => {
    // A JSON content type with no body is a 400: only say JSON when sending some.
    const headers = { authorization: `Bearer ${started.config.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
    const res = await fetch(`${started.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const settle = async (operationId: string): Promise<string> => {
    for (;;) {
      const { body } = await call('GET', `/v1/operations/${operationId}`);
      if (body.status !== 'running') return body.status;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  // The bench's deployment, on a task queue of its own, goes away with its schedules.
  const stop = async () => {
    await started.stop();
    await removeSchedules(started.config);
  };
  return { ...started, stop, call, settle };
}

export type ApiCall = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

/** A process's resident set in MiB (Linux), 0 once it has gone. */
export function rssMiB(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}
