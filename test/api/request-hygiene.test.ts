// Requests that are ordinary on the wire but that the schemas alone answered wrongly (issue #19):
// a POST with no body where the body is optional, text Postgres cannot store in any part of a
// request, and a method the router knows (QUERY) on a path that does not declare it.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemType } from '../../api/problems';
import { type Harness, startHarness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  await h.app.ready();
});
afterAll(async () => {
  await h?.close();
});

const admin = () => ({ authorization: `Bearer ${h.config.adminKey}` });

function expectProblem(res: LightMyRequestResponse, status: number, what: string) {
  expect.soft(res.statusCode, `${what} → ${res.body.slice(0, 200)}`).toBe(status);
  expect.soft(res.headers['content-type'], what).toMatch(/^application\/problem\+json/);
  expect.soft(res.json(), what).toMatchObject({ type: problemType(status), status });
}

/** The fields a 400 names. */
const fields = (res: LightMyRequestResponse): string[] => ((res.json().errors ?? []) as { field: string }[]).map((e) => e.field);

describe('a route whose body is optional', () => {
  /** `METHOD /path/{param}` of every operation the document says takes a body it does not require. */
  const optionalBodies = () => {
    const doc = h.app.swagger() as unknown as { paths: Record<string, Record<string, { requestBody?: { required?: boolean } }>> };
    return Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.requestBody && op.requestBody.required === false)
        .map(([method]) => ({ method: method.toUpperCase(), path })),
    );
  };

  it('is documented as optional', () => {
    expect(optionalBodies().map((op) => `${op.method} ${op.path}`)).toContain('POST /v1/rollouts/{id}/resume');
  });

  it('accepts a request with no body and no content type (curl -X POST), on every such route', async () => {
    for (const { method, path } of optionalBodies()) {
      // Nothing the path names exists: reaching the handler's 404 means the missing body passed.
      const res = await h.app.inject({ method: method as 'POST', url: path.replace(/\{\w+\}/g, 'no-such-thing'), headers: admin() });
      expectProblem(res, 404, `${method} ${path} without a body`);
    }
  });

  it('still checks a body that is there', async () => {
    const url = '/v1/rollouts/no-such-thing/resume';
    const json = { ...admin(), 'content-type': 'application/json' };
    expectProblem(await h.app.inject({ method: 'POST', url, headers: json, payload: '{}' }), 404, 'an empty object');
    expectProblem(await h.app.inject({ method: 'POST', url, headers: json, payload: '{"failureBudget":-1}' }), 400, 'a bad field');
    expectProblem(await h.app.inject({ method: 'POST', url, headers: json, payload: '{"colour":"red"}' }), 400, 'an unknown field');
    // Fastify hands a missing body to validation as null: a JSON null is no body either.
    expectProblem(await h.app.inject({ method: 'POST', url, headers: json, payload: 'null' }), 404, 'a JSON null');
    expectProblem(await h.app.inject({ method: 'POST', url, headers: json, payload: '[]' }), 400, 'an array');
    // A JSON content type promises JSON: an empty body under it stays malformed.
    expectProblem(await h.app.inject({ method: 'POST', url, headers: json, payload: '' }), 400, 'an empty JSON body');
  });

  it('a route whose body is required still refuses none', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/v1/webhooks', headers: admin() });
    expectProblem(res, 400, 'POST /v1/webhooks without a body');
  });
});

describe('control characters', () => {
  const webhook = { url: 'https://example.com/hook', events: ['*'], description: 'a hook' };

  it.each([
    ['url', 'https://example.com/\u0000'],
    ['url', 'https://example.com/a\u0001b'],
    ['description', 'a\u0000b'],
    ['description', 'bell\u0007'],
    ['description', 'escape \u001b[31m'],
    ['description', 'delete\u007f'],
  ])('in a webhook %s (%j) are a 400 naming it, never a 500', async (field, value) => {
    const res = await h.call('admin', { method: 'POST', url: '/v1/webhooks', payload: { ...webhook, [field]: value } });
    expectProblem(res, 400, `${field} ${JSON.stringify(value)}`);
    expect(fields(res)).toContain(field);
  });

  it('are refused in a body on other routes, nested fields and names included', async () => {
    const cases: [string, string, object, string][] = [
      ['POST', '/v1/instances', { name: 'N\u0000', slug: h.slug('ctl'), plan: 'starter', ownerEmail: 'owner@example.com' }, 'name'],
      ['POST', '/v1/instances', { name: 'N', slug: h.slug('ctl'), plan: 'starter', ownerEmail: 'o\u0002@example.com' }, 'ownerEmail'],
      ['POST', '/v1/rollouts', { version: '2.0.0', selector: { plans: ['starter', 'st\u0000'] } }, 'selector.plans.1'],
      ['POST', '/v1/api-keys', { name: 'ci\u0000', role: 'viewer' }, 'name'],
      ['POST', '/v1/rollouts/no-such-thing/resume', { ['x\u0000']: 1 }, 'x\u0000'],
    ];
    for (const [method, url, payload, field] of cases) {
      const res = await h.call('admin', { method: method as 'POST', url, payload });
      expectProblem(res, 400, `${method} ${url} ${field}`);
      expect.soft(fields(res), `${method} ${url}`).toContain(field);
    }
  });

  it('are refused in query strings, read or not, and in path parameters', async () => {
    const cases: [string, string][] = [
      ['/v1/instances?cursor=a%00b', 'cursor'],
      ['/v1/instances?limit=1%00', 'limit'],
      ['/v1/webhooks/no-such-thing/deliveries?cursor=%1F', 'cursor'],
      // No query schema: the parameter is ignored as text, but not as a NUL.
      ['/v1/plans?colour=r%00d', 'colour'],
      ['/healthz?x=%07', 'x'],
      ['/v1/instances/a%00b', 'idOrSlug'],
      ['/v1/rollouts/a%1Bb', 'id'],
    ];
    for (const [url, field] of cases) {
      const res = await h.app.inject({ method: 'GET', url, headers: admin() });
      expectProblem(res, 400, url);
      expect.soft(fields(res), url).toContain(field);
    }
  });

  it('leave the same text without them alone', async () => {
    expect((await h.app.inject({ method: 'GET', url: '/v1/plans?colour=red', headers: admin() })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'GET', url: '/healthz?x=%20', headers: admin() })).statusCode).toBe(200);
  });
});

describe('a method the router knows on a path that does not declare it', () => {
  it.each([
    ['/healthz', ['GET']],
    ['/v1/instances', ['GET', 'POST']],
    ['/v1/rollouts/no-such-thing/resume', ['POST']],
  ])('QUERY %s is a 405 listing the declared methods, with or without a body', async (url, declared) => {
    for (const extra of [{}, { headers: { 'content-type': 'application/json' }, payload: '{}' }, { headers: { 'content-type': 'text/plain' }, payload: 'x' }]) {
      const res = await h.app.inject({ method: 'QUERY' as 'GET', url, ...extra, headers: { ...admin(), ...extra.headers } });
      expectProblem(res, 405, `QUERY ${url}`);
      const allow = String(res.headers.allow ?? '').split(/,\s*/);
      expect.soft(allow, url).toEqual(expect.arrayContaining(declared));
      expect.soft(allow, url).not.toContain('QUERY');
    }
  });

  it('on no path at all is a 404, its body unread', async () => {
    const res = await h.app.inject({ method: 'QUERY' as 'GET', url: '/v1/nothing', headers: admin() });
    expectProblem(res, 404, 'QUERY /v1/nothing');
    const big = await h.app.inject({ method: 'POST', url: '/nothing', headers: { 'content-type': 'application/xml' }, payload: '<x/>' });
    expectProblem(big, 404, 'POST /nothing with an XML body');
  });
});
