// What every bench shares: Shipyard's two processes on the local testbed (on a task queue of
// their own, so a dev worker elsewhere takes none of the bench's work), a client for its API,
// and the resident memory and CPU time of processes.
import { readdirSync, readFileSync } from 'node:fs';
import { startShipyard } from '../demo/dev';
import { infraUp } from '../testbed/index';
import { runningDaemons } from '../testbed/runtime';
import { removeSchedules } from '../worker/schedules';

export type Shipyard = Awaited<ReturnType<typeof startShipyard>>;

export async function startBenchShipyard(
  overrides: NodeJS.ProcessEnv = {},
  shipyard?: Parameters<typeof startShipyard>[2],
): Promise<Shipyard & { call: ApiCall; settle: (operationId: string) => Promise<string> }> {
  const testbed = await infraUp();
  // The bench's own clients (its leftover checks) talk to the same testbed as the processes it
  // starts; the AWS SDK, for one, reads its credentials from the environment.
  for (const [name, value] of Object.entries(testbed)) process.env[name] ??= value;
  // A bench measures Shipyard, not a key's rate limit (its polling would reach one).
  const unlimited = { SHIPYARD_RATE_LIMIT_VIEWER: '1000000', SHIPYARD_RATE_LIMIT_OPERATOR: '1000000', SHIPYARD_RATE_LIMIT_ADMIN: '1000000' };
  const env = { ...process.env, SHIPYARD_TASK_QUEUE: `bench-${Date.now().toString(36)}`, ...unlimited, ...overrides };
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

const ticksPerSecond = 100; // USER_HZ, 100 on every Linux that Node supports

/** /proc/<pid>/stat's fields after the command: [state, ppid, ..., utime, stime, cutime, cstime, ...]. */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

interface ProcessTable {
  stats: Map<number, string[]>;
  children: Map<number, number[]>;
}

/** Every process's stat fields and children, by pid: one read of /proc serves every tree summed from it. */
function processTable(): ProcessTable {
  const stats = new Map<number, string[]>();
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (!fields) continue;
    const pid = Number(entry);
    stats.set(pid, fields);
    const siblings = children.get(Number(fields[1]));
    if (siblings) siblings.push(pid);
    else children.set(Number(fields[1]), [pid]);
  }
  return { stats, children };
}

/**
 * CPU seconds a process and its descendants have used so far (Linux): the live ones' own time plus
 * what ended children left in their parents' accounts, so a Postgres backend that came and went
 * still counts. 0 once the process has gone.
 */
function cpuSeconds({ stats, children }: ProcessTable, root: number | undefined): number {
  let ticks = 0;
  const pending = root ? [root] : [];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    const fields = stats.get(pid);
    if (!fields) continue;
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    pending.push(...(children.get(pid) ?? []));
  }
  return ticks / ticksPerSecond;
}

/**
 * Where the machine's CPU goes while `shipyard` works: Shipyard's two processes and each part of
 * the testbed, as CPU seconds between a start and an end. Read with `since()` at the end.
 */
export function cpuAccount(shipyard: Pick<Shipyard, 'worker' | 'api'>) {
  const parts = () => [
    { name: 'worker', pid: shipyard.worker.child.pid },
    { name: 'api', pid: shipyard.api.child.pid },
    ...runningDaemons(),
  ];
  const read = () => {
    const table = processTable();
    return new Map(parts().map(({ name, pid }) => [name, cpuSeconds(table, pid)]));
  };
  const start = read();
  return {
    /** Each part's CPU seconds since the account opened, most first. */
    since(): { name: string; seconds: number }[] {
      return [...read()]
        .map(([name, now]) => ({ name, seconds: now - (start.get(name) ?? 0) }))
        .sort((a, b) => b.seconds - a.seconds);
    },
  };
}
