// A whole Shipyard (worker + API as real child processes of the production build) for
// end-to-end tests, on a task queue and port of its own, plus a tiny client for its HTTP API.
import { createServer } from 'node:net';
import { expect } from 'vitest';
import { startShipyard } from '../../demo/dev';
import { startProcess, type ShipyardProcess } from '../../demo/processes';
import type { Config } from '../../domain/config';
import { shipyardFromBuild } from './build';
import { testRateLimits, uniqueSuffix } from './config';
import { removeSchedules } from '../../worker/schedules';
import { createShipyardClient, type Operation, unwrap } from '../../client/index';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Stack {
  config: Config;
  env: NodeJS.ProcessEnv;
  api: ApiClient;
  /** The API's process (its output, e.g. for log lines). */
  apiProcess: ShipyardProcess;
  worker: ShipyardProcess;
  /** Replaces the worker process (e.g. after killing it). */
  restartWorker(): ShipyardProcess;
  stop(): Promise<void>;
}

/**
 * A sweep and a reconcile cover the whole catalogue, which every test file shares: a test
 * deployment runs them only when its test asks (or sets an interval of its own), never on its own
 * schedule. Else one file's deployment would act on another's instances, starting the follow-up
 * on its own task queue, where nothing runs it once that file has stopped its worker.
 */
export const onDemandSweeps = {
  SHIPYARD_HEALTH_INTERVAL_SECONDS: '86400',
  SHIPYARD_RECONCILE_INTERVAL_SECONDS: '86400',
  SHIPYARD_BACKUP_SWEEP_INTERVAL_SECONDS: '86400',
} as const;

export async function startStack(overrides: Record<string, string> = {}): Promise<Stack> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SHIPYARD_TASK_QUEUE: `e2e-${uniqueSuffix()}`,
    SHIPYARD_API_PORT: String(await freePort()),
    // Several stacks run side by side: each worker serves its metrics on ports of its own.
    SHIPYARD_WORKER_METRICS_PORT: String(await freePort()),
    SHIPYARD_TEMPORAL_METRICS_PORT: String(await freePort()),
    ...onDemandSweeps,
    ...testRateLimits,
    ...overrides,
  };
  // Quiet unless SHIPYARD_TEST_VERBOSE; the last lines are kept to explain a start that fails.
  const lastLines: string[] = [];
  const quiet = process.env.SHIPYARD_TEST_VERBOSE
    ? undefined
    : () => (line: string) => {
        if (lastLines.push(line) > 40) lastLines.shift();
      };
  const shipyard = await startShipyard(env, quiet, shipyardFromBuild).catch((err: Error) => {
    throw new Error(`${err.message}; its last output:\n${lastLines.join('\n')}`);
  });
  const stack: Stack = {
    config: shipyard.config,
    env,
    api: apiClient(shipyard.baseUrl, shipyard.config.adminKey!),
    apiProcess: shipyard.api,
    worker: shipyard.worker,
    restartWorker() {
      stack.worker = startProcess('worker', env, quiet?.(), shipyardFromBuild);
      return stack.worker;
    },
    async stop() {
      await Promise.all([shipyard.api.stop(), stack.worker.stop()]);
      // A test deployment's schedules go with it (its task queue is gone after the run).
      await removeSchedules(shipyard.config);
    },
  };
  return stack;
}

/** An operation as the API answers it (the typed client's type, from the OpenAPI document). */
export type { Operation } from '../../client/index';

export type ApiClient = ReturnType<typeof apiClient>;

export function apiClient(baseUrl: string, key: string) {
  /** The typed client (client/): paths, bodies and answers checked against the API's schemas. */
  const client = createShipyardClient({ baseUrl, apiKey: key });

  /** Any request, answered with its status and parsed body: for tests of refusals and raw shapes. */
  async function call<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
  }

  /** Polls an operation until it is no longer running. */
  async function settled(operationId: string, timeoutMs = 150_000): Promise<Operation> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const body = await unwrap(client.GET('/v1/operations/{id}', { params: { path: { id: operationId } } }));
      if (body.status !== 'running') return body;
      if (Date.now() > deadline) throw new Error(`operation ${operationId} still running after ${timeoutMs / 1000}s: ${JSON.stringify(body.steps)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  /** Waits until at least `count` steps of an operation are done: it is under way, not finished. */
  async function underWay(operationId: string, count = 3): Promise<void> {
    await expect
      .poll(async () => (await unwrap(client.GET('/v1/operations/{id}', { params: { path: { id: operationId } } }))).steps.filter((s) => s.status === 'done').length, {
        timeout: 60_000,
        interval: 100,
      })
      .toBeGreaterThanOrEqual(count);
  }

  return { baseUrl, client, call, settled, underWay };
}
