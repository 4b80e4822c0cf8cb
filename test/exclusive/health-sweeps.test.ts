// Health sweeps end to end, with worker and API as real processes: objects deleted or changed
// behind Shipyard's back are restored by a sweep and reported to a webhook; a suspended instance
// is checked against 0 replicas; a spent heal budget stops healing and alerts once.
// A sweep covers the whole catalogue and heals with this file's settings, so it runs alone (the
// exclusive project): beside other files it once healed the wildcard-TLS file's instance with a
// certificate of its own.
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { AppsV1Api, CoreV1Api, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectCatalogue } from '../../db/client';
import { getOperation } from '../../db/operations';
import { hostnameFor, namespaceFor } from '../../domain/instance';
import { workflowIdFor } from '../../domain/operations';
import { connectTemporalClient } from '../../temporal/data-converter';
import { ensureSchedules } from '../../worker/schedules';
import { healthSweepScheduleId } from '../../domain/schedules';
import { uniqueSuffix } from '../support/config';
import { until } from '../support/until';
import { startReceiver, verifySignature, type Receiver } from '../support/receiver';
import { startStack, type Stack } from '../support/stack';
import { worldReader } from '../support/world';

let stack: Stack;
let world: ReturnType<typeof worldReader>;
let receiver: Receiver;
let hook: { id: string; secret: string };
let kube: { core: CoreV1Api; apps: AppsV1Api; net: NetworkingV1Api };
let route53: Route53Client;

beforeAll(async () => {
  stack = await startStack({
    SHIPYARD_WEBHOOK_ALLOW_PRIVATE: 'true',
    SHIPYARD_HEAL_BUDGET: '2',
    // Capacity is not what this file tests, and the shared testbed holds every other file's instances too.
    SHIPYARD_OVERCOMMIT_RATIO: '100',
  });
  world = worldReader(stack.config);
  const config = new KubeConfig();
  config.loadFromFile(stack.config.kubeconfig!);
  kube = { core: config.makeApiClient(CoreV1Api), apps: config.makeApiClient(AppsV1Api), net: config.makeApiClient(NetworkingV1Api) };
  route53 = new Route53Client({ region: stack.config.awsRegion, endpoint: stack.config.route53Endpoint });
  receiver = await startReceiver();
  const res = await stack.api.call('POST', '/v1/webhooks', { url: receiver.url, events: ['instance.healed', 'instance.unhealthy', 'instance.recovered'] });
  expect(res.status).toBe(201);
  hook = { id: res.body.webhook.id, secret: res.body.secret };
});

afterAll(async () => {
  if (hook) await stack?.api.call('DELETE', `/v1/webhooks/${hook.id}`);
  await stack?.stop();
  await world?.close();
  await receiver?.close();
  route53?.destroy();
});


async function sweepNow(): Promise<any> {
  const started = await stack.api.call('POST', '/v1/health/sweeps');
  expect(started.status).toBe(202);
  return until('the sweep to finish', async () => {
    const { body } = await stack.api.call('GET', `/v1/health/sweeps/${started.body.sweep.id}`);
    return body.status !== 'running' ? body : undefined;
  });
}

async function deleteDnsRecord(slug: string): Promise<void> {
  const hostname = hostnameFor(slug, stack.config.baseDomain);
  const { ResourceRecordSets = [] } = await route53.send(
    new ListResourceRecordSetsCommand({ HostedZoneId: stack.config.hostedZoneId, StartRecordName: hostname, MaxItems: 5 }),
  );
  const cname = ResourceRecordSets.find((r) => r.Type === 'CNAME' && r.Name?.replace(/\.$/, '') === hostname)!;
  await route53.send(
    new ChangeResourceRecordSetsCommand({ HostedZoneId: stack.config.hostedZoneId, ChangeBatch: { Changes: [{ Action: 'DELETE', ResourceRecordSet: cname }] } }),
  );
}

const deleteService = (slug: string) => kube.core.deleteNamespacedService({ name: 'app', namespace: namespaceFor(slug) });
const check = async (slug: string) => {
  const res = await stack.api.call('POST', `/v1/instances/${slug}/health/check`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { health: string; checkedAt: string; checks: { name: string; status: string; detail?: string }[] };
};
/** The sweep as `GET /v1/health/sweeps` lists it, page after page: other files start sweeps too. */
async function listedSweep(id: string): Promise<unknown> {
  let url = '/v1/health/sweeps?limit=5';
  for (;;) {
    const { body } = await stack.api.call('GET', url);
    const found = body.items.find((s: { id: string }) => s.id === id);
    if (found || !body.nextCursor) return found;
    url = `/v1/health/sweeps?limit=5&cursor=${body.nextCursor}`;
  }
}
const statusOf = (report: { checks: { name: string; status: string }[] }, name: string) => report.checks.filter((c) => c.name === name).map((c) => c.status);
const healEvents = async (slug: string) =>
  ((await stack.api.call('GET', `/v1/instances/${slug}/events?limit=100`)).body.items as any[]).filter((e) => e.actor === 'health-sweep' && e.action === 'heal');

describe('health', () => {
  it('the schedule exists with the configured interval, once, across a worker restart; a new interval updates it', async () => {
    const { client, connection } = await connectTemporalClient(stack.config);
    try {
      const id = healthSweepScheduleId(stack.config);
      const interval = async () => (await client.schedule.getHandle(id).describe()).spec.intervals?.[0]?.every;
      const described = await client.schedule.getHandle(id).describe();
      expect(described.spec.intervals?.[0]?.every).toBe(86_400_000);
      expect(described.action).toMatchObject({ workflowType: 'healthSweep', taskQueue: stack.config.taskQueue });

      // What a worker does at start, with another interval: the same schedule, updated.
      await ensureSchedules(client, { ...stack.config, healthIntervalSeconds: 7200 });
      expect(await interval()).toBe(7_200_000);

      // A restarted worker puts the configured interval back, and there is still one schedule.
      await stack.worker.stop();
      stack.restartWorker();
      await until('the restarted worker to set the interval again', async () => ((await interval()) === 86_400_000 ? true : undefined), 60_000);
      const ids: string[] = [];
      for await (const s of client.schedule.list()) if (s.scheduleId === id) ids.push(s.scheduleId);
      expect(ids).toEqual([id]);
    } finally {
      await connection.close();
    }
  });

  it('a sweep restores a deleted Service, Ingress and DNS record and a changed image; suspended stays at 0; a spent budget alerts once', async () => {
    const slug = `heal-${uniqueSuffix()}`;
    const created = await stack.api.call('POST', '/v1/instances', { name: 'Heal Co', slug, plan: 'starter', ownerEmail: 'ops@heal.test' });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect((await stack.api.settled(created.body.operation.id)).status).toBe('succeeded');

    const first = await check(slug);
    expect(first.health, JSON.stringify(first.checks)).toBe('healthy');
    expect(first.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['namespace', 'quota', 'limit range', 'network policy', 'app secret', 'deployment', 'service', 'ingress', 'certificate', 'dns record', 'database']),
    );

    // Behind Shipyard's back.
    const namespace = namespaceFor(slug);
    await deleteService(slug);
    await kube.net.deleteNamespacedIngress({ name: 'app', namespace });
    await deleteDnsRecord(slug);
    await kube.apps.patchNamespacedDeployment(
      { name: 'app', namespace, body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `${stack.config.appImage}:6.6.6` }] },
    );

    const sweep = await sweepNow();
    // Other test files share the catalogue, so the totals count their instances too.
    expect(sweep.status).toBe('succeeded');
    expect(sweep.checked).toBeGreaterThanOrEqual(1);
    expect(sweep.healed).toBeGreaterThanOrEqual(1);
    expect(await listedSweep(sweep.id)).toEqual(sweep);

    const after = await world.read(slug);
    expect(after.services).toEqual(['app']);
    expect(after.ingresses).toEqual(['app']);
    expect(after.deployments[0]?.image).toBe(`${stack.config.appImage}:1.0.0`);
    expect(after.dnsRecords.some((r) => r.type === 'CNAME')).toBe(true);
    const report = (await stack.api.call('GET', `/v1/instances/${slug}/health`)).body;
    expect(report.health).toBe('healthy');
    for (const name of ['service', 'ingress', 'dns record', 'deployment']) expect(statusOf(report, name), name).toContain('healed');
    const heals = await healEvents(slug);
    expect(heals).toHaveLength(1);
    expect(heals[0].message).toMatch(/service.*ingress.*dns record/s);
    const instance = (await stack.api.call('GET', `/v1/instances/${slug}`)).body;
    expect(instance).toMatchObject({ status: 'ready', health: 'healthy', healthCheckedAt: expect.any(String) });

    const about = (r: { body: string }) => JSON.parse(r.body).data.instance.slug === slug;
    const healed = await until('instance.healed at the receiver', async () => receiver.received.find((r) => about(r) && r.headers['shipyard-event'] === 'instance.healed'));
    expect(verifySignature(hook.secret, healed.headers['shipyard-signature'] as string, healed.body)).toBe(true);
    expect(JSON.parse(healed.body)).toMatchObject({ type: 'instance.healed', data: { instance: { slug }, health: { health: 'healthy' } } });

    // Suspended: checked against 0 replicas, and not "healed" back to running.
    const suspend = await stack.api.call('POST', `/v1/instances/${slug}/suspend`);
    expect((await stack.api.settled(suspend.body.operation.id)).status).toBe('succeeded');
    const suspended = await check(slug);
    expect(suspended.health, JSON.stringify(suspended.checks)).toBe('healthy');
    expect(suspended.checks.find((c) => c.name === 'deployment')).toMatchObject({ status: 'pass', detail: expect.stringMatching(/0 replicas \(suspended\)/) });
    expect((await world.read(slug)).deployments[0]?.replicas).toBe(0);
    expect(await healEvents(slug)).toHaveLength(1);

    // Budget 2: the second heal is allowed, the third is not — unhealthy, alerted once.
    await deleteService(slug);
    expect(statusOf(await check(slug), 'service')).toEqual(['healed']);
    const { metadata, spec } = await kube.core.readNamespacedService({ name: 'app', namespace });
    await deleteService(slug);
    const spent = await check(slug);
    expect(spent.health).toBe('unhealthy');
    expect(spent.checks.find((c) => c.name === 'service')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/heal budget/) });
    expect((await check(slug)).health).toBe('unhealthy');
    expect((await world.read(slug)).services).toEqual([]);
    expect(await healEvents(slug)).toHaveLength(2);
    const listed = (await stack.api.call('GET', '/v1/instances?health=unhealthy&limit=100')).body.items.map((i: { slug: string }) => i.slug);
    expect(listed).toContain(slug);
    await until('instance.unhealthy at the receiver', async () => receiver.received.find((r) => about(r) && r.headers['shipyard-event'] === 'instance.unhealthy'));
    // A delivery is recorded before the check that raised it answers: the catalogue is complete now.
    const db = connectCatalogue(stack.config.databaseUrl, { max: 1 });
    try {
      const [row] = await db.$client`
        select count(*)::int as n from webhook_deliveries d join webhook_events e on e.id = d.event_id
        where d.webhook_id = ${hook.id} and e.type = 'instance.unhealthy' and e.payload->'data'->'instance'->>'slug' = ${slug}`;
      expect(row!.n).toBe(1);
    } finally {
      await db.$client.end();
    }


    // Put right by hand (the Service as it was): healthy again, and instance.recovered is told.
    await kube.core.createNamespacedService({
      namespace,
      body: { metadata: { name: 'app', labels: metadata?.labels }, spec: { selector: spec?.selector, ports: spec?.ports } },
    });
    expect((await check(slug)).health).toBe('healthy');
    const recovered = await until('instance.recovered at the receiver', async () =>
      receiver.received.find((r) => about(r) && r.headers['shipyard-event'] === 'instance.recovered'),
    );
    expect(JSON.parse(recovered.body)).toMatchObject({ data: { instance: { slug, health: 'healthy' }, health: { health: 'healthy' } } });
    expect(await healEvents(slug)).toHaveLength(2);

    const deleted = await stack.api.call('DELETE', `/v1/instances/${slug}`);
    expect((await stack.api.settled(deleted.body.operation.id)).status).toBe('succeeded');
  }, 400_000);

  it('a sweep settles an operation whose run was terminated, and lists orphans as it found them', async () => {
    const db = connectCatalogue(stack.config.databaseUrl, { max: 1 });
    const { client, connection } = await connectTemporalClient(stack.config);
    try {
      const slug = `term-${uniqueSuffix()}`;
      const created = await stack.api.call('POST', '/v1/instances', { name: 'Term Co', slug, plan: 'starter', ownerEmail: 'ops@term.test' });
      expect(created.status, JSON.stringify(created.body)).toBe(202);
      const operationId = created.body.operation.id as string;
      // Read from the catalogue, not the API: an API read would settle the row itself.
      await until('the run to be recorded', async () => ((await getOperation(db, operationId))?.runId ? true : undefined));
      await client.workflow.getHandle(workflowIdFor(slug)).terminate('health test: terminated by hand');
      expect((await getOperation(db, operationId))?.status).toBe('running');

      const sweep = await sweepNow();
      expect(sweep.status).toBe('succeeded');
      const settled = await getOperation(db, operationId);
      expect(settled).toMatchObject({ status: 'failed', error: expect.stringMatching(/terminated.*health test: terminated by hand/) });

      const orphans = await stack.api.call('GET', '/v1/health/orphans');
      expect(orphans.status).toBe(200);
      expect(orphans.body).toMatchObject({ items: expect.any(Array), sweepId: sweep.id, checkedAt: expect.any(String) });
      // The abandoned provision's instance has a live row (failed, being cleaned up): not an orphan.
      expect(orphans.body.items.map((o: { slug: string }) => o.slug)).not.toContain(slug);
    } finally {
      await db.$client.end();
      await connection.close();
    }
  }, 200_000);
});
