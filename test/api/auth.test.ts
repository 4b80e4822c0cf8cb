// Every route × role: who gets in, who is turned away, and how. Requests aim at things that do
// not exist (or carry invalid bodies) so passing auth starts no workflow.
import type { HTTPMethods } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectCatalogue } from '../../db/client';
import { revokeApiKey } from '../../db/api-keys';
import type { ApiRole } from '../../domain/api-keys';
import { type Harness, startHarness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

interface RouteCase {
  method: HTTPMethods;
  /** Path with real placeholders filled, as OpenAPI writes them. */
  route: string;
  url: string;
  role: ApiRole;
  payload?: unknown;
}

const missing = 'no-such-instance';
export const v1Routes: RouteCase[] = [
  { method: 'GET', route: '/v1/plans', url: '/v1/plans', role: 'viewer' },
  { method: 'GET', route: '/v1/instances', url: '/v1/instances?limit=1', role: 'viewer' },
  { method: 'POST', route: '/v1/instances', url: '/v1/instances', role: 'operator', payload: { name: '' } },
  { method: 'GET', route: '/v1/instances/{idOrSlug}', url: `/v1/instances/${missing}`, role: 'viewer' },
  { method: 'DELETE', route: '/v1/instances/{idOrSlug}', url: `/v1/instances/${missing}`, role: 'operator' },
  { method: 'POST', route: '/v1/instances/{idOrSlug}/upgrade', url: `/v1/instances/${missing}/upgrade`, role: 'operator', payload: { version: '2.0.0' } },
  { method: 'POST', route: '/v1/instances/{idOrSlug}/suspend', url: `/v1/instances/${missing}/suspend`, role: 'operator' },
  { method: 'POST', route: '/v1/instances/{idOrSlug}/resume', url: `/v1/instances/${missing}/resume`, role: 'operator' },
  { method: 'GET', route: '/v1/instances/{idOrSlug}/operations', url: `/v1/instances/${missing}/operations`, role: 'viewer' },
  { method: 'GET', route: '/v1/instances/{idOrSlug}/events', url: `/v1/instances/${missing}/events`, role: 'viewer' },
  { method: 'GET', route: '/v1/operations/{id}', url: '/v1/operations/op_missing', role: 'viewer' },
  { method: 'GET', route: '/v1/operations/{id}/events', url: '/v1/operations/op_missing/events', role: 'viewer' },
  { method: 'GET', route: '/v1/events', url: `/v1/events?instance=${missing}`, role: 'viewer' },
  { method: 'POST', route: '/v1/operations/{id}/cancel', url: '/v1/operations/op_missing/cancel', role: 'operator' },
  { method: 'POST', route: '/v1/api-keys', url: '/v1/api-keys', role: 'admin', payload: { name: '', role: 'viewer' } },
  { method: 'GET', route: '/v1/api-keys', url: '/v1/api-keys', role: 'admin' },
  { method: 'DELETE', route: '/v1/api-keys/{id}', url: '/v1/api-keys/key_missing', role: 'admin' },
  { method: 'POST', route: '/v1/instances/{idOrSlug}/plan', url: `/v1/instances/${missing}/plan`, role: 'operator', payload: { plan: 'pro' } },
  { method: 'POST', route: '/v1/instances/{idOrSlug}/backups', url: `/v1/instances/${missing}/backups`, role: 'operator' },
  { method: 'GET', route: '/v1/instances/{idOrSlug}/backups', url: `/v1/instances/${missing}/backups`, role: 'viewer' },
  { method: 'POST', route: '/v1/instances/{idOrSlug}/restore', url: `/v1/instances/${missing}/restore`, role: 'operator', payload: { backupId: 'bak_00000000000000000000000000' } },
  { method: 'POST', route: '/v1/instances/{idOrSlug}/undelete', url: `/v1/instances/${missing}/undelete`, role: 'operator' },
  { method: 'POST', route: '/v1/instances/{idOrSlug}/move', url: `/v1/instances/${missing}/move`, role: 'admin', payload: { cluster: 'no-such-cluster' } },
  { method: 'POST', route: '/v1/instances/{idOrSlug}/rotate-credentials', url: `/v1/instances/${missing}/rotate-credentials`, role: 'operator' },
  { method: 'GET', route: '/v1/backups/{id}', url: '/v1/backups/bak_00000000000000000000000000', role: 'viewer' },
  { method: 'DELETE', route: '/v1/backups/{id}', url: '/v1/backups/bak_00000000000000000000000000', role: 'admin' },
  { method: 'GET', route: '/v1/instances/{idOrSlug}/usage', url: `/v1/instances/${missing}/usage`, role: 'viewer' },
  { method: 'POST', route: '/v1/invoices/runs', url: '/v1/invoices/runs', role: 'admin', payload: { period: 'not-a-period' } },
  { method: 'GET', route: '/v1/invoices', url: '/v1/invoices?limit=1', role: 'viewer' },
  { method: 'GET', route: '/v1/invoices/{id}', url: '/v1/invoices/inv_missing', role: 'viewer' },
  { method: 'GET', route: '/v1/invoices/{id}.csv', url: '/v1/invoices/inv_missing.csv', role: 'viewer' },
  { method: 'GET', route: '/v1/invoices/{id}.html', url: '/v1/invoices/inv_missing.html', role: 'viewer' },
  { method: 'POST', route: '/v1/rollouts', url: '/v1/rollouts', role: 'operator', payload: { version: '' } },
  { method: 'GET', route: '/v1/rollouts', url: '/v1/rollouts?limit=1', role: 'viewer' },
  { method: 'GET', route: '/v1/rollouts/{id}', url: '/v1/rollouts/ro_missing', role: 'viewer' },
  { method: 'POST', route: '/v1/rollouts/{id}/pause', url: '/v1/rollouts/ro_missing/pause', role: 'operator' },
  { method: 'POST', route: '/v1/rollouts/{id}/resume', url: '/v1/rollouts/ro_missing/resume', role: 'operator' },
  { method: 'POST', route: '/v1/rollouts/{id}/abort', url: '/v1/rollouts/ro_missing/abort', role: 'operator' },
  { method: 'POST', route: '/v1/webhooks', url: '/v1/webhooks', role: 'admin', payload: { url: '', events: [] } },
  { method: 'GET', route: '/v1/webhooks', url: '/v1/webhooks', role: 'admin' },
  { method: 'DELETE', route: '/v1/webhooks/{id}', url: '/v1/webhooks/whk_missing', role: 'admin' },
  { method: 'GET', route: '/v1/webhooks/{id}/deliveries', url: '/v1/webhooks/whk_missing/deliveries', role: 'admin' },
  { method: 'POST', route: '/v1/health/sweeps', url: '/v1/health/sweeps', role: 'operator' },
  { method: 'GET', route: '/v1/health/sweeps', url: '/v1/health/sweeps?limit=1', role: 'viewer' },
  { method: 'GET', route: '/v1/health/orphans', url: '/v1/health/orphans', role: 'viewer' },
  { method: 'GET', route: '/v1/me', url: '/v1/me', role: 'viewer' },
  { method: 'GET', route: '/v1/fleet/summary', url: '/v1/fleet/summary', role: 'viewer' },
  { method: 'GET', route: '/v1/clusters', url: '/v1/clusters', role: 'viewer' },
  { method: 'GET', route: '/v1/clusters/{name}', url: '/v1/clusters/no-such-cluster', role: 'viewer' },
  { method: 'POST', route: '/v1/clusters/{name}/drain', url: '/v1/clusters/no-such-cluster/drain', role: 'admin' },
  { method: 'POST', route: '/v1/clusters/{name}/undrain', url: '/v1/clusters/no-such-cluster/undrain', role: 'admin' },
  { method: 'GET', route: '/v1/health/sweeps/{id}', url: '/v1/health/sweeps/swp_missing', role: 'viewer' },
  { method: 'GET', route: '/v1/instances/{idOrSlug}/health', url: `/v1/instances/${missing}/health`, role: 'viewer' },
  { method: 'POST', route: '/v1/instances/{idOrSlug}/health/check', url: `/v1/instances/${missing}/health/check`, role: 'operator' },
];

const rank: Record<ApiRole, number> = { viewer: 1, operator: 2, admin: 3 };
const roles: ApiRole[] = ['viewer', 'operator', 'admin'];

describe.each(v1Routes)('$method $route (needs $role)', (route) => {
  const request = (role: ApiRole | null, headers: Record<string, string> = {}) =>
    h.call(role, { method: route.method, url: route.url, payload: route.payload as object | undefined, headers });

  it('answers 401 problem+json without a key, with a bad key, and with a malformed header', async () => {
    for (const res of [
      await request(null),
      await request(null, { authorization: 'Bearer sy_not-a-real-key' }),
      await request(null, { authorization: `Basic ${h.keys.admin}` }),
    ]) {
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status: 401, title: expect.any(String), type: expect.any(String) });
    }
  });

  it.each(roles)('as %s', async (role) => {
    const res = await request(role);
    if (rank[role] < rank[route.role]) {
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ status: 403, detail: expect.stringContaining(route.role) });
    } else {
      expect([401, 403]).not.toContain(res.statusCode);
      expect(res.statusCode).toBeLessThan(500);
    }
  });
});

describe('public routes', () => {
  it.each(['/healthz', '/readyz', '/openapi.json', '/docs'])('%s needs no key', async (url) => {
    const res = await h.call(null, { method: 'GET', url });
    expect(res.statusCode).toBeLessThan(400);
  });

  it('/readyz reports the catalogue and Temporal reachable', async () => {
    const res = await h.call(null, { method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready' });
  });
});

describe('the configured admin key', () => {
  it('is an admin named bootstrap-admin', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: { authorization: `Bearer ${h.config.adminKey}` },
      payload: { name: `made-by-bootstrap-${Date.now()}`, role: 'viewer' },
    });
    expect(res.statusCode).toBe(201);
  });
});

describe('API keys', () => {
  it('are shown once, listed without secrets, and stop working when revoked', async () => {
    const name = `ci-${Date.now()}`;
    const created = await h.call('admin', { method: 'POST', url: '/v1/api-keys', payload: { name, role: 'operator' } });
    expect(created.statusCode).toBe(201);
    const { apiKey, key } = created.json();
    expect(apiKey).toMatchObject({ name, role: 'operator', prefix: key.slice(0, apiKey.prefix.length) });
    expect(created.headers.location).toBe(`/v1/api-keys/${apiKey.id}`);

    const asNew = await h.app.inject({ method: 'GET', url: '/v1/plans', headers: { authorization: `Bearer ${key}` } });
    expect(asNew.statusCode).toBe(200);

    const listed = await h.call('admin', { method: 'GET', url: '/v1/api-keys' });
    expect(listed.statusCode).toBe(200);
    expect(listed.body).not.toContain(key);
    expect(listed.json().items).toContainEqual(apiKey);

    const again = await h.call('admin', { method: 'POST', url: '/v1/api-keys', payload: { name, role: 'viewer' } });
    expect(again.statusCode).toBe(409);

    const revoked = await h.call('admin', { method: 'DELETE', url: `/v1/api-keys/${apiKey.id}` });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().apiKey.revokedAt).toEqual(expect.any(String));
    const afterRevoke = await h.app.inject({ method: 'GET', url: '/v1/plans', headers: { authorization: `Bearer ${key}` } });
    expect(afterRevoke.statusCode).toBe(401);

    // The name is free again once its key is revoked.
    const reused = await h.call('admin', { method: 'POST', url: '/v1/api-keys', payload: { name, role: 'viewer' } });
    expect(reused.statusCode).toBe(201);
  });

  it('stop working when another API process revokes them, though this one has just used them', async () => {
    const created = await h.call('admin', { method: 'POST', url: '/v1/api-keys', payload: { name: `ci-elsewhere-${Date.now()}`, role: 'viewer' } });
    const { apiKey, key } = created.json();
    const get = () => h.app.inject({ method: 'GET', url: '/v1/plans', headers: { authorization: `Bearer ${key}` } });
    expect((await get()).statusCode).toBe(200);
    expect((await get()).statusCode).toBe(200);
    // Another replica's revoke: the catalogue write and its announcement, without this app's route.
    const elsewhere = connectCatalogue(h.config.databaseUrl, { max: 1 });
    try {
      await revokeApiKey(elsewhere, apiKey.id);
    } finally {
      await elsewhere.$client.end();
    }
    await vi.waitFor(async () => expect((await get()).statusCode).toBe(401), { timeout: 5_000, interval: 50 });
  });

  it('reject an unknown role and unknown fields', async () => {
    const res = await h.call('admin', { method: 'POST', url: '/v1/api-keys', payload: { name: 'x', role: 'root', scope: 'all' } });
    expect(res.statusCode).toBe(400);
    const fields = res.json().errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['role', 'scope']));
  });
});

describe('the OpenAPI document', () => {
  it('lists every route with its responses, and each documented route exists', async () => {
    const res = await h.call(null, { method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    const documented = Object.entries(doc.paths as Record<string, Record<string, { responses: object }>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    // The registry hook is signed by the registry (HMAC), not by an API key.
    const expected = [
      ...v1Routes.map((r) => `${r.method} ${r.route}`),
      'GET /healthz', 'GET /readyz', 'POST /codec/decode', 'POST /codec/encode', 'POST /v1/hooks/registry',
    ];
    expect(documented.sort()).toEqual(expected.sort());
    for (const entry of documented) {
      const [method, path] = entry.split(' ') as [HTTPMethods, string];
      expect(h.app.hasRoute({ method, url: path.replace(/\{(\w+)\}/g, ':$1') })).toBe(true);
      const op = doc.paths[path][method.toLowerCase()];
      const answersAtOnce = path.endsWith('/health/check') || /\/rollouts\/\{id\}\/(pause|resume|abort)$/.test(path) || /\/clusters\/\{name\}\/(drain|undrain)$/.test(path);
      expect(Object.keys(op.responses)).toContain(method === 'POST' && !path.startsWith('/codec/') ? (/(api-keys|webhooks)$/.test(path) ? '201' : answersAtOnce ? '200' : '202') : method === 'DELETE' && path.includes('instances') ? '202' : '200');
      if (path.startsWith('/v1/') && !path.startsWith('/v1/hooks/')) expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '403', '500']));
    }
    // Problems are documented as problem+json against one shared schema.
    expect(doc.paths['/v1/instances'].post.responses['409'].content['application/problem+json'].schema.$ref).toMatch(/Problem$/);
    expect(doc.components.schemas).toHaveProperty('Instance');
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });
});
