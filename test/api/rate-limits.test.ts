// Rate limits with limits low enough to reach: per API key at its role's limit, per client
// address without a valid key, a 429 problem with Retry-After and both header families, the open
// routes never counted, and the 429 documented on every /v1 route.
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness';

const limits = { viewer: 5, operator: 3, admin: 4 };

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    SHIPYARD_RATE_LIMIT_VIEWER: String(limits.viewer),
    SHIPYARD_RATE_LIMIT_OPERATOR: String(limits.operator),
    SHIPYARD_RATE_LIMIT_ADMIN: String(limits.admin),
  });
});
afterAll(async () => {
  await h?.close();
});

const times = async (n: number, send: () => Promise<LightMyRequestResponse>) => {
  const answers: LightMyRequestResponse[] = [];
  for (let i = 0; i < n; i++) answers.push(await send());
  return answers;
};

const headersOf = (res: LightMyRequestResponse) =>
  Object.fromEntries(
    ['ratelimit-limit', 'ratelimit-remaining', 'x-ratelimit-limit', 'x-ratelimit-remaining'].map((name) => [name, Number(res.headers[name])]),
  );

function expectRateLimited(res: LightMyRequestResponse, limit: number) {
  expect(res.statusCode, res.body).toBe(429);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json()).toMatchObject({ type: 'urn:shipyard:problem:rate-limited', title: 'Too many requests', status: 429 });
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(headersOf(res)).toEqual({ 'ratelimit-limit': limit, 'ratelimit-remaining': 0, 'x-ratelimit-limit': limit, 'x-ratelimit-remaining': 0 });
  expect(Number(res.headers['ratelimit-reset'])).toBe(retryAfter);
  expect(Number(res.headers['x-ratelimit-reset'])).toBe(retryAfter);
}

describe('per API key', () => {
  it("counts each key's requests against its role's limit, a minute at a time", async () => {
    const viewer = await times(limits.viewer + 1, () => h.call('viewer', { method: 'GET', url: '/v1/plans' }));
    expect(viewer.slice(0, limits.viewer).map((r) => r.statusCode)).toEqual(Array(limits.viewer).fill(200));
    expect(viewer.slice(0, limits.viewer).map(headersOf)).toEqual(
      [4, 3, 2, 1, 0].map((left) => ({ 'ratelimit-limit': 5, 'ratelimit-remaining': left, 'x-ratelimit-limit': 5, 'x-ratelimit-remaining': left })),
    );
    expectRateLimited(viewer.at(-1)!, limits.viewer);
    expect(viewer.at(-1)!.json().detail).toContain(`may make ${limits.viewer} requests a minute`);

    // Another key has a count of its own, at its own role's limit; refused requests (a 404) count too.
    const operator = await times(limits.operator + 1, () => h.call('operator', { method: 'GET', url: '/v1/instances/no-such-instance' }));
    expect(operator.slice(0, limits.operator).map((r) => r.statusCode)).toEqual(Array(limits.operator).fill(404));
    expectRateLimited(operator.at(-1)!, limits.operator);

    const admin = await times(limits.admin + 1, () => h.call('admin', { method: 'GET', url: '/v1/api-keys' }));
    expect(admin.slice(0, limits.admin).map((r) => r.statusCode)).toEqual(Array(limits.admin).fill(200));
    expectRateLimited(admin.at(-1)!, limits.admin);
  });
});

describe('without a valid key', () => {
  const from = (remoteAddress: string, options: InjectOptions) => () => h.app.inject({ ...options, remoteAddress });

  it('counts per client address at the viewer limit, before answering 401', async () => {
    const answers = await times(limits.viewer + 1, from('192.0.2.10', { method: 'GET', url: '/v1/plans', headers: { authorization: 'Bearer sy_wrong' } }));
    expect(answers.slice(0, limits.viewer).map((r) => r.statusCode)).toEqual(Array(limits.viewer).fill(401));
    expectRateLimited(answers.at(-1)!, limits.viewer);
    // Another address is counted apart.
    expect((await from('192.0.2.11', { method: 'GET', url: '/v1/plans' })()).statusCode).toBe(401);
  });

  it("counts the registry's hook per client address", async () => {
    const answers = await times(limits.viewer + 1, from('192.0.2.20', { method: 'POST', url: '/v1/hooks/registry', payload: {} }));
    expect(answers.slice(0, limits.viewer).map((r) => r.statusCode)).not.toContain(429);
    expectRateLimited(answers.at(-1)!, limits.viewer);
  });
});

describe('routes that are never counted', () => {
  it.each(['/healthz', '/readyz', '/metrics', '/openapi.json'])('%s', async (url) => {
    const answers = await times(limits.viewer * 2, () => h.app.inject({ method: 'GET', url, remoteAddress: '192.0.2.30' }));
    expect(answers.map((r) => r.statusCode)).toEqual(answers.map(() => 200));
    expect(answers.at(-1)!.headers['ratelimit-limit']).toBeUndefined();
  });
});

describe('the OpenAPI document', () => {
  it('lists the 429, with Retry-After and the RateLimit headers, on every /v1 route and on no other', async () => {
    await h.app.ready();
    const doc = h.app.swagger() as unknown as {
      paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, unknown> }> }>>;
    };
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
    expect(operations.filter(({ path }) => path.startsWith('/v1/')).length).toBeGreaterThan(40);
    for (const { path, method, op } of operations) {
      const tooMany = op.responses['429'];
      if (!path.startsWith('/v1/')) {
        expect(tooMany, `${method} ${path}`).toBeUndefined();
        continue;
      }
      expect(tooMany, `${method} ${path}`).toBeDefined();
      expect(Object.keys(tooMany!.headers ?? {})).toEqual(expect.arrayContaining(['Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset']));
      expect(Object.keys(tooMany!.content ?? {})).toEqual(['application/problem+json']);
    }
  });
});
