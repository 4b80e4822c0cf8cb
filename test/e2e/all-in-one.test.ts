// `shipyard all`: API and worker in one process for small installs. One /metrics answers for
// both and for the Temporal SDK, and SIGTERM stops both cleanly.
import { afterAll, describe, expect, it } from 'vitest';
import { startProcess, waitForHttp, type ShipyardProcess } from '../../demo/processes';
import { loadConfig } from '../../domain/config';
import { removeSchedules } from '../../worker/schedules';
import { uniqueSuffix } from '../support/config';
import { apiClient, freePort, onDemandSweeps } from '../support/stack';

let all: ShipyardProcess | undefined;
let env: NodeJS.ProcessEnv | undefined;
afterAll(async () => {
  await all?.stop();
  // The worker made its schedules on the shared Temporal: left behind, they would fire for the
  // rest of the run, starting runs that no worker takes.
  if (env) await removeSchedules(loadConfig(env));
});

describe('shipyard all', () => {
  it('serves the API, runs operations, exposes every metric on one /metrics, and stops on SIGTERM', async () => {
    const port = await freePort();
    env = {
      ...process.env,
      ...onDemandSweeps,
      SHIPYARD_TASK_QUEUE: `all-${uniqueSuffix()}`,
      SHIPYARD_API_PORT: String(port),
      SHIPYARD_TEMPORAL_METRICS_PORT: String(await freePort()),
    };
    all = startProcess('all', env, () => {});
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitForHttp(`${baseUrl}/readyz`, 90_000, all);

    const client = apiClient(baseUrl, env.SHIPYARD_ADMIN_KEY!);
    const slug = `all-${uniqueSuffix()}`;
    const created = await client.call('POST', '/v1/instances', { name: 'All In One', slug, plan: 'starter', ownerEmail: 'a@all.test' });
    expect(created.status).toBe(202);
    expect((await client.settled(created.body.operation.id)).status).toBe('succeeded');

    // The counter moves just after the closing write commits, so a scrape may briefly trail the API.
    await expect.poll(async () => (await fetch(`${baseUrl}/metrics`)).text()).toContain('shipyard_operations_total{kind="provision",status="succeeded"} 1');
    const text = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(text).toMatch(/^shipyard_instances\{status="ready"\} [1-9]/m);
    expect(text).toMatch(/^temporal_worker_task_slots_available\{/m);

    const deleted = await client.call('DELETE', `/v1/instances/${slug}`);
    expect((await client.settled(deleted.body.operation.id)).status).toBe('succeeded');
    expect(await all.stop('SIGTERM')).toBe(0);
  });
});
