// Every route × role × scope. A key bound to an owner ("scoped") gets, on its own owner's things,
// the very answer an unbound key of its role gets; on another owner's, the answer a thing that
// does not exist gets (status and body: existence is not revealed); on a fleet-wide route, 403.
// The routes come from the OpenAPI document, so a route this table lacks fails the coverage test.
//
// The things are rows inserted in the catalogue (two owners, each with a deleted instance, its
// operation, a backup, an event and an invoice): every request that would start an operation is
// refused by the instance's status, so the table starts no workflow; one test at the end starts
// a real provision with a scoped key (and cancels it).
import { randomBytes } from 'node:crypto';
import type { HTTPMethods, LightMyRequestResponse } from 'fastify';
import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginBackup, completeBackup } from '../../db/backups';
import { recordEvent } from '../../db/events';
import { newId } from '../../db/ids';
import { markInstance } from '../../db/instances';
import { finishOperation } from '../../db/operations';
import { instances, invoices } from '../../db/schema';
import type { ApiRole } from '../../domain/api-keys';
import { operationKindSpecs, type OperationKindSpec } from '../../domain/operation-kinds';
import { newCatalogueInstance } from '../support/catalogue-rows';
import { uniqueSuffix } from '../support/config';
import { type Harness, startHarness } from './harness';

const roles: ApiRole[] = ['viewer', 'operator', 'admin'];
const rank: Record<ApiRole, number> = { viewer: 1, operator: 2, admin: 3 };

interface Owned {
  owner: string;
  slug: string;
  instanceId: string;
  operationId: string;
  backupId: string;
  invoiceId: string;
}

interface Fixtures {
  a: Owned;
  b: Owned;
  /** Keys bound to owner A, by role, and their names. */
  scoped: Record<ApiRole, { key: string; name: string }>;
  /** A viewer and an operator key bound to owner B. */
  scopedB: Record<'viewer' | 'operator', string>;
  /** Ids of the right shape that name nothing. */
  missing: { slug: string; instanceId: string; operationId: string; backupId: string; invoiceId: string };
}

let h: Harness;
let fx: Fixtures;
const run = `${uniqueSuffix()}${uniqueSuffix()}`;

async function ownedBy(owner: string, label: string): Promise<Owned> {
  const { slug, instanceId, operationId } = await newCatalogueInstance(h.db, `scope-${label}`, owner);
  // Deleted: every operation is refused by its status, and no sweep or schedule looks at it.
  await markInstance(h.db, instanceId, { status: 'deleted' });
  await finishOperation(h.db, operationId, { status: 'succeeded', steps: [] });
  const backup = await beginBackup(h.db, { instanceId, operationId, kind: 'final', bucket: 'scopes-test', prefix: '', appVersion: '1.0.0', plan: 'starter' });
  await completeBackup(h.db, backup.id, { parts: [], encryptionKeyId: null, postgresVersion: '16' });
  await recordEvent(h.db, { instanceId, actor: 'scopes-test', action: 'note', outcome: 'succeeded', message: `owned by ${owner}` });
  const [invoice] = await h.db
    .insert(invoices)
    .values({ id: newId('inv'), number: `INV-200101-${run}-${label}`, ownerEmail: owner, period: '2001-01', status: 'issued', currency: 'EUR', subtotalCents: 0 })
    .returning();
  return { owner, slug, instanceId, operationId, backupId: backup.id, invoiceId: invoice!.id };
}

async function createKey(name: string, role: ApiRole, owner: string): Promise<string> {
  const res = await h.call('admin', { method: 'POST', url: '/v1/api-keys', payload: { name, role, owner } });
  expect(res.statusCode, res.body).toBe(201);
  expect(res.json().apiKey).toMatchObject({ name, role, owner });
  return res.json().key;
}

beforeAll(async () => {
  h = await startHarness();
  const a = await ownedBy(`a-${run}@scopes.test`, 'a');
  const b = await ownedBy(`b-${run}@scopes.test`, 'b');
  const scoped = {} as Fixtures['scoped'];
  for (const role of roles) {
    const name = `scoped-${role}-${run}`;
    scoped[role] = { key: await createKey(name, role, a.owner), name };
  }
  const scopedB = {
    viewer: await createKey(`scoped-b-viewer-${run}`, 'viewer', b.owner),
    operator: await createKey(`scoped-b-operator-${run}`, 'operator', b.owner),
  };
  const missing = { slug: `no-such-${run}`, instanceId: newId('ins'), operationId: newId('op'), backupId: newId('bak'), invoiceId: newId('inv') };
  fx = { a, b, scoped, scopedB, missing };
});
afterAll(async () => {
  if (fx) await h.db.delete(invoices).where(inArray(invoices.id, [fx.a.invoiceId, fx.b.invoiceId]));
  await h?.close();
});

interface Target {
  url: string;
  payload?: object;
}

/** A request on another owner's thing, and the same request on a thing that does not exist. */
interface Elsewhere {
  target: Target;
  missing: Target;
  /** [the missing id, the real one]: the 404 names what was asked for. */
  swap: [string, string][];
}

interface RouteCase {
  method: HTTPMethods;
  /** As the OpenAPI document writes it. */
  route: string;
  role: ApiRole;
  /** owned: on instances and what hangs off them; fleet: refused to scoped keys; shared: the same for everyone; list: filtered. */
  kind: 'owned' | 'fleet' | 'shared' | 'list';
  /** On owner A's things (owned, shared). */
  own?: (f: Fixtures) => Target;
  /** On owner B's things (owned). */
  elsewhere?: (f: Fixtures) => Elsewhere[];
}

/** A route on one instance: A's; B's (and a slug that names nothing); and the same by id. */
function onInstance(method: HTTPMethods, suffix: string, role: ApiRole, payload?: (f: Fixtures) => object | undefined, query = ''): RouteCase {
  const url = (idOrSlug: string) => `/v1/instances/${idOrSlug}${suffix}${query}`;
  return {
    method,
    route: `/v1/instances/{idOrSlug}${suffix}`,
    role,
    kind: 'owned',
    own: (f) => ({ url: url(f.a.slug), payload: payload?.(f) }),
    elsewhere: (f) => [
      { target: { url: url(f.b.slug), payload: payload?.(f) }, missing: { url: url(f.missing.slug), payload: payload?.(f) }, swap: [[f.missing.slug, f.b.slug]] },
      { target: { url: url(f.b.instanceId), payload: payload?.(f) }, missing: { url: url(f.missing.instanceId), payload: payload?.(f) }, swap: [[f.missing.instanceId, f.b.instanceId]] },
    ],
  };
}

/** A route on one thing by id (an operation, a backup, an invoice). */
function onThing(method: HTTPMethods, route: string, role: ApiRole, id: (o: Owned | Fixtures['missing']) => string): RouteCase {
  const url = (value: string) => route.replace(/\{id\}/, value);
  return {
    method,
    route,
    role,
    kind: 'owned',
    own: (f) => ({ url: url(id(f.a)) }),
    elsewhere: (f) => [{ target: { url: url(id(f.b)) }, missing: { url: url(id(f.missing)) }, swap: [[id(f.missing), id(f.b)]] }],
  };
}

const fleet = (method: HTTPMethods, route: string, role: ApiRole): RouteCase => ({ method, route, role, kind: 'fleet' });

/** Bodies of the operations an instance's route starts; refused on a deleted instance after every name in them is looked up. */
const operationBodies: Partial<Record<string, (f: Fixtures) => object>> = {
  upgrade: () => ({ version: '9.9.9' }),
  change_plan: () => ({ plan: 'standard' }),
  restore: (f) => ({ backupId: f.a.backupId }),
  move: () => ({ cluster: 'no-such-cluster' }),
};

const operationRoutes: RouteCase[] = (Object.entries(operationKindSpecs) as [string, OperationKindSpec][])
  .filter(([kind, spec]) => kind !== 'provision' && spec.route)
  .map(([kind, spec]) => onInstance(spec.route!.method, spec.route!.path, spec.route!.role, operationBodies[kind]));

const cases: RouteCase[] = [
  { method: 'GET', route: '/v1/plans', role: 'viewer', kind: 'shared', own: () => ({ url: '/v1/plans' }) },
  { method: 'GET', route: '/v1/instances', role: 'viewer', kind: 'list' },
  {
    method: 'POST',
    route: '/v1/instances',
    role: 'operator',
    kind: 'owned',
    // A's own slug again: refused as taken, after the owner, plan and backup are checked.
    own: (f) => ({ url: '/v1/instances', payload: { name: 'Taken', slug: f.a.slug, plan: 'starter', ownerEmail: f.a.owner, fromBackup: f.a.backupId } }),
    elsewhere: (f) => [
      // A clone of another owner's backup: as if the backup did not exist.
      {
        target: { url: '/v1/instances', payload: { name: 'Clone', slug: f.a.slug, plan: 'starter', ownerEmail: f.a.owner, fromBackup: f.b.backupId } },
        missing: { url: '/v1/instances', payload: { name: 'Clone', slug: f.a.slug, plan: 'starter', ownerEmail: f.a.owner, fromBackup: f.missing.backupId } },
        swap: [[f.missing.backupId, f.b.backupId]],
      },
    ],
  },
  onInstance('GET', '', 'viewer'),
  onInstance('DELETE', '', 'admin', undefined, '?grace=0'),
  onInstance('POST', '/undelete', 'operator'),
  onInstance('GET', '/operations', 'viewer'),
  onInstance('GET', '/events', 'viewer'),
  onInstance('GET', '/backups', 'viewer'),
  onInstance('GET', '/usage', 'viewer', undefined, '?from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z'),
  onInstance('GET', '/health', 'viewer'),
  onInstance('POST', '/health/check', 'operator'),
  ...operationRoutes,
  {
    // A restore of A's instance from B's backup: as if the backup did not exist (never "of another instance").
    ...onInstance('POST', '/restore', 'operator'),
    own: undefined,
    elsewhere: (f) => [
      {
        target: { url: `/v1/instances/${f.a.slug}/restore`, payload: { backupId: f.b.backupId } },
        missing: { url: `/v1/instances/${f.a.slug}/restore`, payload: { backupId: f.missing.backupId } },
        swap: [[f.missing.backupId, f.b.backupId]],
      },
    ],
  },
  onThing('GET', '/v1/operations/{id}', 'viewer', (o) => o.operationId),
  // The event streams: only refusals here (an opened stream is followed in test/e2e/event-streams.test.ts).
  { ...onThing('GET', '/v1/operations/{id}/events', 'viewer', (o) => o.operationId), own: undefined },
  {
    method: 'GET',
    route: '/v1/events',
    role: 'viewer',
    kind: 'owned',
    elsewhere: (f) => [{ target: { url: `/v1/events?instance=${f.b.slug}` }, missing: { url: `/v1/events?instance=${f.missing.slug}` }, swap: [[f.missing.slug, f.b.slug]] }],
  },
  onThing('POST', '/v1/operations/{id}/cancel', 'operator', (o) => o.operationId),
  onThing('GET', '/v1/backups/{id}', 'viewer', (o) => o.backupId),
  onThing('DELETE', '/v1/backups/{id}', 'admin', (o) => o.backupId),
  { method: 'GET', route: '/v1/invoices', role: 'viewer', kind: 'list' },
  { method: 'GET', route: '/v1/me', role: 'viewer', kind: 'list' },
  { method: 'GET', route: '/v1/fleet/summary', role: 'viewer', kind: 'list' },
  onThing('GET', '/v1/invoices/{id}', 'viewer', (o) => o.invoiceId),
  onThing('GET', '/v1/invoices/{id}.csv', 'viewer', (o) => o.invoiceId),
  onThing('GET', '/v1/invoices/{id}.html', 'viewer', (o) => o.invoiceId),
  fleet('POST', '/v1/invoices/runs', 'admin'),
  fleet('POST', '/v1/rollouts', 'operator'),
  fleet('GET', '/v1/rollouts', 'viewer'),
  fleet('GET', '/v1/rollouts/{id}', 'viewer'),
  fleet('POST', '/v1/rollouts/{id}/pause', 'operator'),
  fleet('POST', '/v1/rollouts/{id}/resume', 'operator'),
  fleet('POST', '/v1/rollouts/{id}/abort', 'operator'),
  fleet('POST', '/v1/api-keys', 'admin'),
  fleet('GET', '/v1/api-keys', 'admin'),
  fleet('DELETE', '/v1/api-keys/{id}', 'admin'),
  fleet('POST', '/v1/webhooks', 'admin'),
  fleet('GET', '/v1/webhooks', 'admin'),
  fleet('DELETE', '/v1/webhooks/{id}', 'admin'),
  fleet('GET', '/v1/webhooks/{id}/deliveries', 'admin'),
  fleet('POST', '/v1/health/sweeps', 'operator'),
  fleet('GET', '/v1/health/sweeps', 'viewer'),
  fleet('GET', '/v1/health/sweeps/{id}', 'viewer'),
  fleet('GET', '/v1/health/orphans', 'viewer'),
  fleet('GET', '/v1/clusters', 'viewer'),
  fleet('GET', '/v1/clusters/{name}', 'viewer'),
  fleet('POST', '/v1/clusters/{name}/drain', 'admin'),
  fleet('POST', '/v1/clusters/{name}/undrain', 'admin'),
];

/** Routes without an API key check: public, the codec (its own rules, tested below) and the registry's signed hook. */
const keyless = new Set(['GET /healthz', 'GET /readyz', 'POST /codec/decode', 'POST /codec/encode', 'POST /v1/hooks/registry']);

function send(key: string, method: HTTPMethods, target: Target): Promise<LightMyRequestResponse> {
  return h.app.inject({ method, url: target.url, payload: target.payload, headers: { authorization: `Bearer ${key}` } });
}

/** An answer as compared: status, media type and body, with key names (and `swap`ped ids) made the same. */
function answer(res: LightMyRequestResponse, swap: [string, string][] = []) {
  let body = res.body;
  for (const { name } of Object.values(fx.scoped)) body = body.replaceAll(name, '<key>');
  body = body.replace(/test-(viewer|operator|admin)-[0-9a-f]+/g, '<key>');
  for (const [from, to] of swap) body = body.replaceAll(from, to);
  return { status: res.statusCode, type: res.headers['content-type'], body };
}

describe('the table', () => {
  it('covers every documented route that takes an API key', async () => {
    await h.app.ready();
    const doc = h.app.swagger() as unknown as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const covered = new Set(cases.map((c) => `${c.method} ${c.route}`));
    expect(documented.filter((r) => !keyless.has(r)).sort()).toEqual([...covered].sort());
  });
});

describe.each(cases)('$method $route (needs $role; $kind)', (c) => {
  it.each(roles)('a %s key bound to an owner', async (role) => {
    const scoped = fx.scoped[role].key;
    const unbound = h.keys[role];
    const allowed = rank[role] >= rank[c.role];

    if (c.kind === 'fleet') {
      const url = c.route.replace(/\{(id|name)\}/g, 'x_missing');
      const res = await send(scoped, c.method, { url, payload: c.method === 'GET' || c.method === 'DELETE' ? undefined : {} });
      expect(res.statusCode, res.body).toBe(403);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json().type).toBe(allowed ? 'urn:shipyard:problem:forbidden-owner' : 'urn:shipyard:problem:forbidden');
      return;
    }
    if (c.kind === 'list') return; // below

    const own = c.own?.(fx);
    if (own) {
      const mine = await send(scoped, c.method, own);
      const theirs = await send(unbound, c.method, own);
      expect(answer(mine), `${c.method} ${own.url}`).toEqual(answer(theirs));
      // The unbound key reaches A's thing: the comparison is not of two 404s.
      if (allowed) expect([403, 404]).not.toContain(theirs.statusCode);
    }
    for (const { target, missing, swap } of c.elsewhere?.(fx) ?? []) {
      const refused = await send(scoped, c.method, target);
      const absent = await send(unbound, c.method, missing);
      expect(answer(refused), `${c.method} ${target.url}`).toEqual(answer(absent, swap));
      if (allowed) expect(refused.statusCode, refused.body).toBe(404);
    }
  });
});

describe('lists', () => {
  it("GET /v1/instances lists the owner's instances only", async () => {
    for (const role of roles) {
      const res = await send(fx.scoped[role].key, 'GET', { url: '/v1/instances?limit=100' });
      expect(res.statusCode).toBe(200);
      const items = res.json().items as { id: string; ownerEmail: string }[];
      expect(items.map((i) => i.ownerEmail)).toEqual(items.map(() => fx.a.owner));
      const mine = await h.db.select({ id: instances.id }).from(instances).where(eq(instances.ownerEmail, fx.a.owner));
      expect(items.map((i) => i.id).sort()).toEqual(mine.map((i) => i.id).sort());
      expect(items.map((i) => i.id)).toContain(fx.a.instanceId);
    }
    const filtered = await send(fx.scoped.viewer.key, 'GET', { url: '/v1/instances?status=deleted&limit=100' });
    expect(filtered.json().items.map((i: { id: string }) => i.id)).toContain(fx.a.instanceId);
    expect(filtered.json().items.map((i: { id: string }) => i.id)).not.toContain(fx.b.instanceId);
  });

  it('GET /v1/instances filters by plan, version and a search of slug or owner, within the scope', async () => {
    const ids = async (key: string, query: string) => {
      const res = await send(key, 'GET', { url: `/v1/instances?limit=100&${query}` });
      expect(res.statusCode, res.body).toBe(200);
      return (res.json().items as { id: string }[]).map((i) => i.id);
    };
    const [a] = await h.db.select().from(instances).where(eq(instances.id, fx.a.instanceId));
    const exact = `plan=${encodeURIComponent(a!.plan)}&version=${encodeURIComponent(a!.version)}`;
    // Part of the owner's email, in another case; the slug, whole.
    expect(await ids(h.keys.viewer, `${exact}&search=${encodeURIComponent(fx.a.owner.slice(0, -2).toUpperCase())}`)).toEqual([fx.a.instanceId]);
    expect(await ids(h.keys.viewer, `search=${fx.a.slug}`)).toEqual([fx.a.instanceId]);
    expect(await ids(h.keys.viewer, `search=${fx.a.slug}&version=no-such-version`)).toEqual([]);
    // A search's % and _ are the characters themselves, not wildcards.
    expect(await ids(fx.scoped.viewer.key, 'search=%25')).toEqual([]);
    // Another owner's instance is not found by a scoped key, however it is asked for.
    expect(await ids(fx.scoped.viewer.key, `search=${fx.b.slug}`)).toEqual([]);
  });

  it('GET /v1/me says who the key is, and the owner it is bound to', async () => {
    for (const role of roles) {
      const scoped = await send(fx.scoped[role].key, 'GET', { url: '/v1/me' });
      expect(scoped.json()).toEqual({ name: fx.scoped[role].name, role, owner: fx.a.owner });
      const unbound = await send(h.keys[role], 'GET', { url: '/v1/me' });
      expect(unbound.json()).toMatchObject({ role });
      expect(unbound.json().owner).toBeUndefined();
    }
  });

  it("GET /v1/fleet/summary counts the owner's instances and operations only", async () => {
    const mine = await h.db.select({ id: instances.id }).from(instances).where(eq(instances.ownerEmail, fx.a.owner));
    for (const role of roles) {
      const res = await send(fx.scoped[role].key, 'GET', { url: '/v1/fleet/summary' });
      expect(res.statusCode, res.body).toBe(200);
      const summary = res.json() as { instances: { total: number; byStatus: { count: number }[] }; operations: { hours: unknown[] }; failures: { slug: string }[] };
      expect(summary.instances.total).toBe(mine.length);
      expect(summary.instances.byStatus.reduce((sum, t) => sum + t.count, 0)).toBe(mine.length);
      expect(summary.operations.hours).toHaveLength(24);
      expect(summary.failures.every((f) => f.slug === fx.a.slug)).toBe(true);
    }
    const all = (await send(h.keys.viewer, 'GET', { url: '/v1/fleet/summary' })).json() as { instances: { total: number } };
    expect(all.instances.total).toBeGreaterThan(mine.length);
  });

  it("GET /v1/invoices lists the owner's invoices only, whatever `owner` asks for", async () => {
    const ids = async (key: string, query: string) => {
      const res = await send(key, 'GET', { url: `/v1/invoices?period=2001-01&limit=100${query}` });
      expect(res.statusCode).toBe(200);
      return (res.json().items as { id: string }[]).map((i) => i.id);
    };
    for (const role of roles) {
      expect(await ids(fx.scoped[role].key, '')).toEqual([fx.a.invoiceId]);
      expect(await ids(fx.scoped[role].key, `&owner=${encodeURIComponent(fx.a.owner)}`)).toEqual([fx.a.invoiceId]);
      expect(await ids(fx.scoped[role].key, `&owner=${encodeURIComponent(fx.b.owner)}`)).toEqual([]);
    }
    expect(await ids(h.keys.viewer, `&owner=${encodeURIComponent(fx.b.owner)}`)).toEqual([fx.b.invoiceId]);
  });
});

describe('keys bound to an owner', () => {
  it('need an email as the owner', async () => {
    const res = await h.call('admin', { method: 'POST', url: '/v1/api-keys', payload: { name: `bad-owner-${run}`, role: 'viewer', owner: 'not an email' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors.map((e: { field: string }) => e.field)).toContain('owner');
  });

  it('are listed with their owner', async () => {
    const res = await h.call('admin', { method: 'GET', url: '/v1/api-keys' });
    const mine = (res.json().items as { name: string; owner?: string }[]).filter((k) => k.name.endsWith(run));
    expect(mine.filter((k) => k.name.startsWith('scoped-b-')).map((k) => k.owner)).toEqual([fx.b.owner, fx.b.owner]);
    expect(mine.find((k) => k.name === fx.scoped.admin.name)?.owner).toBe(fx.a.owner);
  });

  it('create instances for their owner only (403 for another ownerEmail)', async () => {
    const slug = h.slug('scoped');
    const body = { name: 'Scoped', slug, plan: 'starter', ownerEmail: fx.b.owner };
    const refused = await send(fx.scoped.operator.key, 'POST', { url: '/v1/instances', payload: body });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ type: 'urn:shipyard:problem:forbidden-owner', errors: [{ field: 'ownerEmail' }] });

    // A real provision (on the harness's task queue, which no worker polls), then cancelled.
    const created = await send(fx.scoped.operator.key, 'POST', { url: '/v1/instances', payload: { ...body, ownerEmail: fx.a.owner } });
    expect(created.statusCode, created.body).toBe(202);
    const { instance, operation } = created.json();
    expect(instance).toMatchObject({ slug, ownerEmail: fx.a.owner });

    const listed = await send(fx.scoped.viewer.key, 'GET', { url: '/v1/instances?limit=100' });
    expect(listed.json().items.map((i: { slug: string }) => i.slug)).toContain(slug);
    expect((await send(fx.scoped.viewer.key, 'GET', { url: `/v1/operations/${operation.id}` })).statusCode).toBe(200);
    expect((await send(fx.scopedB.viewer, 'GET', { url: `/v1/operations/${operation.id}` })).statusCode).toBe(404);
    expect((await send(fx.scopedB.operator, 'POST', { url: `/v1/operations/${operation.id}/cancel` })).statusCode).toBe(404);
    const cancelled = await send(fx.scoped.operator.key, 'POST', { url: `/v1/operations/${operation.id}/cancel` });
    expect(cancelled.statusCode, cancelled.body).toBe(202);
  });

  it('get payloads back still encrypted from the codec, and may not encode', async () => {
    // The codec's payloads are the whole fleet's. The keys are the catalogue's, so a second app sees them.
    const withAuth = await startHarness({ SHIPYARD_CODEC_AUTH: 'api-key', SHIPYARD_ENCRYPTION_KEYS: `scopes:${randomBytes(32).toString('base64')}` });
    try {
      const payloads = [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('{"a":1}').toString('base64') }];
      const codec = (key: string, path: string, body: object[]) =>
        withAuth.app.inject({
          method: 'POST',
          url: `/codec/${path}`,
          headers: { authorization: `Bearer ${key}`, 'x-namespace': withAuth.config.temporalNamespace },
          payload: { payloads: body },
        });
      const encoded = await codec(withAuth.keys.operator, 'encode', payloads);
      expect(encoded.statusCode).toBe(200);
      const encrypted = encoded.json().payloads;
      expect(encrypted).not.toEqual(payloads);
      const refused = await codec(fx.scoped.operator.key, 'encode', payloads);
      expect(refused.statusCode).toBe(403);
      expect(refused.json().type).toBe('urn:shipyard:problem:forbidden-owner');
      const decoded = await codec(fx.scoped.viewer.key, 'decode', encrypted);
      expect(decoded.statusCode).toBe(200);
      expect(decoded.json().payloads).toEqual(encrypted);
      expect((await codec(withAuth.keys.viewer, 'decode', encrypted)).json().payloads).toEqual(payloads);
    } finally {
      await withAuth.close();
    }
  });
});
