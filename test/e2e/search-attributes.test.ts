// Temporal-native visibility, as an operator uses it: `temporal workflow list --query` with
// Shipyard's search attributes finds the runs a test caused, rollouts are listed from them, and
// the API links each operation and rollout to its run.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileScheduleId } from '../../domain/schedules';
import { connectTemporalClient } from '../../temporal/data-converter';
import { temporalCli } from '../../testbed/components/temporal';
import { uniqueSuffix } from '../support/config';
import { type Stack, startStack } from '../support/stack';

const UI = 'http://127.0.0.1:8233';
let stack: Stack;
let cli: string;

beforeAll(async () => {
  [stack, cli] = await Promise.all([startStack({ SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '15', SHIPYARD_TEMPORAL_UI_URL: UI }), temporalCli()]);
});
afterAll(async () => {
  await stack?.stop();
});

interface ListedRun {
  execution: { workflowId: string; runId: string };
  status: string;
  searchAttributes?: { indexedFields?: Record<string, { data: string }> };
  memo?: { fields?: Record<string, { metadata?: Record<string, string> }> };
}

/** `temporal workflow list --query …` as an operator types it, against the testbed's server. */
function list(query: string): ListedRun[] {
  const done = spawnSync(cli, ['workflow', 'list', '--query', query, '--output', 'json', '--limit', '100'], {
    env: { ...process.env, TEMPORAL_ADDRESS: stack.config.temporalAddress, TEMPORAL_NAMESPACE: stack.config.temporalNamespace },
    encoding: 'utf8',
  });
  expect(done.status, done.stderr).toBe(0);
  const text = done.stdout.trim();
  if (!text) return [];
  // One JSON document (an array), or one object a line, depending on the CLI's version.
  return text.startsWith('[') ? JSON.parse(text) : text.split('\n').map((line) => JSON.parse(line));
}

/** Visibility lags the runs a little: polls until the query finds `count` runs. */
async function listed(query: string, count: number): Promise<ListedRun[]> {
  let runs: ListedRun[] = [];
  await expect.poll(() => (runs = list(query)).length, { timeout: 30_000, interval: 500, message: query }).toBe(count);
  return runs;
}

/** A Keyword attribute's value as the CLI prints it (a JSON payload, base64). */
const attribute = (run: ListedRun, name: string) => {
  const data = run.searchAttributes?.indexedFields?.[name]?.data;
  return data === undefined ? undefined : JSON.parse(Buffer.from(data, 'base64').toString());
};

describe('search attributes', () => {
  it("ShipyardOperation='upgrade' AND ExecutionStatus='Failed' finds exactly the failed upgrade this test caused", async () => {
    const slug = `sa-${uniqueSuffix()}`;
    // A provision that fails leaves nothing deployed; an upgrade of it then fails (its workflow run Failed).
    const created = await stack.api.call('POST', '/v1/instances', { name: 'Search', slug, plan: 'starter', ownerEmail: 'sa@search.test', version: 'fail-1.0.0' });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect((await stack.api.settled(created.body.operation.id)).status).toBe('failed');
    const upgrade = await stack.api.call('POST', `/v1/instances/${slug}/upgrade`, { version: '1.4.0' });
    expect(upgrade.status, JSON.stringify(upgrade.body)).toBe(202);
    const failed = await stack.api.settled(upgrade.body.operation.id);
    expect(failed.status).toBe('failed');

    const [run] = await listed(`ShipyardOperation='upgrade' AND ExecutionStatus='Failed' AND ShipyardInstance='${slug}'`, 1);
    const view = (await stack.api.call('GET', `/v1/operations/${failed.id}`)).body;
    expect(run!.execution).toEqual({ workflowId: `instance:${slug}`, runId: view.runId });
    expect(view).toMatchObject({ workflowId: `instance:${slug}`, temporalUiUrl: `${UI}/namespaces/default/workflows/instance%3A${slug}/${view.runId}/history` });
    // The values say what the workflow id and the catalogue's public names say, nothing more.
    expect(Object.fromEntries(['ShipyardInstance', 'ShipyardOperation', 'ShipyardPlan', 'ShipyardVersion', 'ShipyardRollout'].map((n) => [n, attribute(run!, n)]))).toEqual({
      ShipyardInstance: slug,
      ShipyardOperation: 'upgrade',
      ShipyardPlan: 'starter',
      ShipyardVersion: '1.4.0',
      ShipyardRollout: undefined,
    });
    // The memo stays encrypted.
    const memoEncodings = Object.values(run!.memo?.fields ?? {}).map((f) => Buffer.from(f.metadata?.encoding ?? '', 'base64').toString());
    expect(memoEncodings.length).toBeGreaterThan(0);
    expect(new Set(memoEncodings)).toEqual(new Set(['binary/encrypted']));
    // Without the instance, the same query finds it among the fleet's failed upgrades; the provision that failed is not an upgrade.
    expect(list(`ShipyardOperation='upgrade' AND ExecutionStatus='Failed'`).map((r) => r.execution.runId)).toContain(view.runId);
    await listed(`ShipyardInstance='${slug}'`, 2);
    const [provision] = await listed(`ShipyardInstance='${slug}' AND ShipyardOperation='provision'`, 1);
    expect(attribute(provision!, 'ShipyardVersion')).toBe('fail-1.0.0');
  });

  it('a rollout and the upgrades it started carry ShipyardRollout; the rollout list reads them', async () => {
    const slug = `sa-ro-${uniqueSuffix()}`;
    const created = await stack.api.call('POST', '/v1/instances', { name: 'Search Rollout', slug, plan: 'starter', ownerEmail: 'sa@search.test' });
    expect((await stack.api.settled(created.body.operation.id)).status).toBe('succeeded');
    const started = await stack.api.call('POST', '/v1/rollouts', { version: '1.5.0', selector: { slugs: [slug] } });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const { id } = started.body.rollout;
    expect(started.body.rollout).toMatchObject({ workflowId: `rollout:${id}`, runId: expect.any(String), temporalUiUrl: expect.stringContaining(`/workflows/rollout%3A${id}/`) });
    await expect
      .poll(async () => (await stack.api.call('GET', `/v1/rollouts/${id}`)).body.status, { timeout: 120_000, interval: 500 })
      .toBe('succeeded');

    // The workflow keeps ShipyardRolloutStatus current as it goes; visibility records its last value
    // a moment after the run closes, which the API has already seen.
    const [rolloutRun] = await listed(`ShipyardRollout='${id}' AND WorkflowType='rolloutFleet' AND ShipyardRolloutStatus='succeeded'`, 1);
    expect(attribute(rolloutRun!, 'ShipyardVersion')).toBe('1.5.0');
    const [upgradeRun] = await listed(`ShipyardRollout='${id}' AND ShipyardOperation='upgrade'`, 1);
    expect(attribute(upgradeRun!, 'ShipyardInstance')).toBe(slug);

    // The list: the rollout with its version and status, read from the search attributes.
    await expect
      .poll(async () => (await stack.api.call('GET', '/v1/rollouts?limit=100')).body.items)
      .toContainEqual(expect.objectContaining({ id, version: '1.5.0', status: 'succeeded' }));
  });

  it('scheduled runs carry their job in ShipyardOperation', async () => {
    const { client, connection } = await connectTemporalClient(stack.config);
    try {
      await client.schedule.getHandle(reconcileScheduleId(stack.config)).trigger();
      await listed(`ShipyardOperation='reconcile' AND TaskQueue='${stack.config.taskQueue}'`, 1);
    } finally {
      await connection.close();
    }
  });
});
