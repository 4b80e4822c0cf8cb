// One customer instance through its whole life, driven only through the HTTP API, checked
// against the real Kubernetes, Route 53 and Postgres of the testbed.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostnameFor, namespaceFor } from '../../domain/instance';
import { uniqueSuffix } from '../support/config';
import { type Stack, startStack } from '../support/stack';
import { nothingLeft, worldReader } from '../support/world';

let stack: Stack;
let world: ReturnType<typeof worldReader>;
const slug = `life-${uniqueSuffix()}`;
const neighbour = `next-${uniqueSuffix()}`;

beforeAll(async () => {
  stack = await startStack({ SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '20' });
  world = worldReader(stack.config);
});
afterAll(async () => {
  await stack?.stop();
  await world?.close();
});

describe('an instance from create to teardown', () => {
  it('create → ready, with every part present and isolated', async () => {
    const started = Date.now();
    const created = await stack.api.call('POST', '/v1/instances', {
      name: 'Life Cycle Ltd',
      slug,
      plan: 'starter',
      ownerEmail: 'ops@life.test',
      version: '1.0.0',
    });
    expect(created.status).toBe(202);
    expect(created.headers.get('location')).toBe(`/v1/instances/${slug}`);
    const op = await stack.api.settled(created.body.operation.id);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');
    console.log(`provision of ${slug}: ${((Date.now() - started) / 1000).toFixed(1)}s from POST to ready`);

    const { body: instance } = await stack.api.call('GET', `/v1/instances/${slug}`);
    expect(instance).toMatchObject({
      slug,
      status: 'ready',
      version: '1.0.0',
      plan: 'starter',
      hostname: hostnameFor(slug, stack.config.baseDomain),
      namespace: namespaceFor(slug),
      currentOperation: null,
    });

    const w = await world.read(slug);
    expect(w.namespace).toBe(true);
    expect(w.deployments).toEqual([
      { name: 'app', image: `${stack.config.appImage}:1.0.0`, replicas: 1, readyReplicas: 1 },
    ]);
    expect(w.services).toEqual(['app']);
    expect(w.ingresses).toEqual(['app']);
    expect(w.certificates).toEqual([{ name: expect.any(String), ready: true }]);
    expect(w.secrets).toEqual(expect.arrayContaining(['app-env', 'app-tls']));
    expect(w.quotas).toHaveLength(1);
    expect(w.limitRanges).toHaveLength(1);
    expect(w.networkPolicies).toHaveLength(1);
    expect(w.dnsRecords).toContainEqual({
      name: hostnameFor(slug, stack.config.baseDomain),
      type: 'CNAME',
      values: [stack.config.ingressTarget],
    });
    expect(w.database).toBe(true);
    expect(w.role).toBe(true);
  });

  it("the instance's role opens its own database and no other tenant's", async () => {
    const other = await stack.api.call('POST', '/v1/instances', { name: 'Neighbour', slug: neighbour, plan: 'starter', ownerEmail: 'n@next.test' });
    expect(other.status).toBe(202);
    expect((await stack.api.settled(other.body.operation.id)).status).toBe('succeeded');

    const own = postgres(await world.appDatabaseUrl(slug), { max: 1, onnotice: () => {} });
    const [row] = await own`select current_database() as db, current_user as usr`;
    expect(row).toEqual({ db: `tenant_${slug.replaceAll('-', '_')}`, usr: `tenant_${slug.replaceAll('-', '_')}` });
    await own.end();

    const ownUrl = new URL(await world.appDatabaseUrl(slug));
    ownUrl.pathname = `/tenant_${neighbour.replaceAll('-', '_')}`;
    const intruder = postgres(ownUrl.toString(), { max: 1, onnotice: () => {} });
    // pg_hba.conf refuses tenant roles every database but their own; the missing CONNECT is the second guard.
    await expect(intruder`select 1`).rejects.toThrow(/pg_hba.conf rejects connection|permission denied for database/);
    await intruder.end();
  });

  it('upgrade → the new image runs', async () => {
    const res = await stack.api.call('POST', `/v1/instances/${slug}/upgrade`, { version: '1.1.0' });
    expect(res.status).toBe(202);
    const during = await stack.api.call('GET', `/v1/instances/${slug}`);
    expect(['upgrading', 'ready']).toContain(during.body.status);
    const op = await stack.api.settled(res.body.operation.id);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body).toMatchObject({ status: 'ready', version: '1.1.0' });
    expect((await world.read(slug)).deployments).toEqual([
      { name: 'app', image: `${stack.config.appImage}:1.1.0`, replicas: 1, readyReplicas: 1 },
    ]);
  });

  it('upgrade to a version that never becomes ready → rolled back, old version still running', async () => {
    const res = await stack.api.call('POST', `/v1/instances/${slug}/upgrade`, { version: 'fail-2.0.0' });
    expect(res.status).toBe(202);
    const op = await stack.api.settled(res.body.operation.id);
    expect(op.status, JSON.stringify(op)).toBe('rolled_back');
    expect(op.error).toMatch(/fail-2\.0\.0/);
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body).toMatchObject({ status: 'ready', version: '1.1.0' });
    const w = await world.read(slug);
    expect(w.deployments).toEqual([{ name: 'app', image: `${stack.config.appImage}:1.1.0`, replicas: 1, readyReplicas: 1 }]);
  });

  it('suspend scales to zero and keeps the data; resume brings it back', async () => {
    const suspend = await stack.api.call('POST', `/v1/instances/${slug}/suspend`);
    expect(suspend.status).toBe(202);
    expect((await stack.api.settled(suspend.body.operation.id)).status).toBe('succeeded');
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body.status).toBe('suspended');
    let w = await world.read(slug);
    expect(w.deployments[0]).toMatchObject({ replicas: 0, readyReplicas: 0 });
    expect(w.database).toBe(true);
    expect(w.secrets).toContain('app-env');

    const resume = await stack.api.call('POST', `/v1/instances/${slug}/resume`);
    expect(resume.status).toBe(202);
    expect((await stack.api.settled(resume.body.operation.id)).status).toBe('succeeded');
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body.status).toBe('ready');
    w = await world.read(slug);
    expect(w.deployments[0]).toMatchObject({ replicas: 1, readyReplicas: 1 });
  });

  it('teardown → nothing left anywhere; the catalogue keeps the row and its history', async () => {
    for (const s of [slug, neighbour]) {
      const res = await stack.api.call('DELETE', `/v1/instances/${s}`);
      expect(res.status).toBe(202);
      const op = await stack.api.settled(res.body.operation.id);
      expect(op.status, JSON.stringify(op)).toBe('succeeded');
      expect(await world.read(s)).toMatchObject(nothingLeft);
    }
    const { body: instance } = await stack.api.call('GET', `/v1/instances/${slug}`);
    expect(instance.status).toBe('deleted');
    const { body: ops } = await stack.api.call('GET', `/v1/instances/${slug}/operations`);
    const kinds = (ops.items ?? ops).map((o: { kind: string }) => o.kind);
    expect(kinds).toEqual(expect.arrayContaining(['provision', 'upgrade', 'suspend', 'resume', 'teardown']));
    const { body: events } = await stack.api.call('GET', `/v1/instances/${slug}/events`);
    expect((events.items ?? events).length).toBeGreaterThanOrEqual(10);
  });
});
