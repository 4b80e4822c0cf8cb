// The API's contract, fuzzed from its own OpenAPI document: every documented operation × a
// battery of malformed requests answers application/problem+json with a 4xx (never a 5xx), and
// every status it answers is one the document lists for that operation. Routes come from
// `app.swagger()`, so a new route is covered without touching this file. Requests aim at things
// that do not exist and carry no valid body, so none of them starts anything.
import net from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BODY_LIMIT, build } from '../../api/app';
import { MAX_PARAM_LENGTH } from '../../api/problems';
import { connectCatalogue } from '../../db/client';
import { type Harness, startHarness } from './harness';

interface DocumentedOperation {
  method: string;
  /** As the document writes it: `/v1/instances/{idOrSlug}`. */
  path: string;
  statuses: string[];
  parameters: { in: 'path' | 'query' | 'header'; name: string }[];
  hasBody: boolean;
  /** Its 200 is a text/event-stream, which (for the fleet's) never ends on its own. */
  streams: boolean;
}

let h: Harness;
let operations: DocumentedOperation[];
beforeAll(async () => {
  h = await startHarness();
  await h.app.ready();
  const doc = h.app.swagger() as unknown as {
    paths: Record<string, Record<string, { responses: Record<string, { content?: object }>; parameters?: DocumentedOperation['parameters'] }>>;
  };
  operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      statuses: Object.keys(op.responses),
      parameters: op.parameters ?? [],
      hasBody: !['GET', 'HEAD'].includes(method.toUpperCase()),
      streams: 'text/event-stream' in (op.responses['200']?.content ?? {}),
    })),
  );
});
afterAll(async () => {
  await h?.close();
});

/** Fills the path's parameters: each with `value`, or one that names nothing. */
const urlOf = (op: DocumentedOperation, value = 'no-such-thing') => op.path.replace(/\{\w+\}/g, value);
const pathParams = (op: DocumentedOperation) => op.parameters.filter((p) => p.in === 'path');
const queryParams = (op: DocumentedOperation) => op.parameters.filter((p) => p.in === 'query').map((p) => p.name);

async function request(op: DocumentedOperation, options: { url?: string; headers?: Record<string, string>; payload?: string | Buffer } = {}) {
  const injected = {
    method: op.method as 'GET',
    url: options.url ?? urlOf(op),
    // The configured admin key passes every role check without a catalogue lookup.
    headers: { authorization: `Bearer ${h.config.adminKey}`, ...options.headers },
    ...(options.payload !== undefined ? { payload: options.payload } : {}),
  };
  if (!op.streams) return h.app.inject(injected);
  // An event stream that opens is left at once (its status and headers are what is checked); an
  // answer that is not a stream is read whole.
  const res = await h.app.inject({ ...injected, payloadAsStream: true });
  const body = res.statusCode === 200 ? '' : await readAll(res.stream());
  if (res.statusCode === 200) res.stream().destroy();
  return Object.assign(Object.create(res) as LightMyRequestResponse, { body, json: () => JSON.parse(body) });
}

async function readAll(stream: AsyncIterable<Buffer | string>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

/**
 * The contract every answer keeps: no 5xx; an error is problem+json whose `status` is the HTTP
 * status; and the status is documented for the operation. `expected`, when given, is the status.
 */
function expectContract(op: DocumentedOperation, label: string, res: LightMyRequestResponse, expected?: number) {
  const what = `${op.method} ${op.path} ${label} → ${res.statusCode} ${res.body.slice(0, 200)}`;
  expect.soft(res.statusCode, what).toBeLessThan(500);
  if (expected !== undefined) expect.soft(res.statusCode, what).toBe(expected);
  if (res.statusCode >= 400) {
    expect.soft(res.headers['content-type'], what).toMatch(/^application\/problem\+json/);
    expect.soft(res.json(), what).toMatchObject({ type: expect.any(String), title: expect.any(String), status: res.statusCode });
  }
  expect.soft(op.statuses, `${what}: not documented`).toContain(String(res.statusCode));
}

/** The field names a 400 lists. */
const fields = (res: LightMyRequestResponse): string[] =>
  res.statusCode === 400 ? ((res.json().errors ?? []) as { field: string }[]).map((e) => e.field) : [];

describe('every documented operation × malformed requests', () => {
  it('covers the routes the app has', () => {
    // A guard on the battery itself: an empty document would make every test below vacuous.
    expect(operations.length).toBeGreaterThanOrEqual(17);
    expect(operations.map((op) => `${op.method} ${op.path}`)).toContain('GET /v1/instances/{idOrSlug}/events');
  });

  it('the plain request (nothing found, no body) keeps the contract', async () => {
    for (const op of operations) expectContract(op, 'as is', await request(op));
  });

  it('over-long and odd path parameters: 414 over the router limit, else 400', async () => {
    for (const op of operations.filter((o) => pathParams(o).length > 0)) {
      for (const [value, expected] of [
        ['a'.repeat(MAX_PARAM_LENGTH + 1), 414],
        ['a'.repeat(5000), 414],
        ['a'.repeat(65), 400],
        ['a%00b', 400],
        ['a%20b', 400],
        ['%E0%A4%A', 400],
        ['%C3%28', 400],
        ['ins_%F0%9F%92%A5', 400],
      ] as const) {
        expectContract(op, `param ${value.slice(0, 20)}`, await request(op, { url: urlOf(op, value) }), expected);
      }
    }
  });

  it('over-long headers are refused or ignored, never a 5xx', async () => {
    for (const op of operations) {
      expectContract(op, 'x-padding', await request(op, { headers: { 'x-padding': 'a'.repeat(12_000) } }));
      const longKey = await request(op, { headers: { authorization: `Bearer ${'k'.repeat(12_000)}` } });
      expectContract(op, 'long bearer', longKey, op.path.startsWith('/v1/') ? 401 : undefined);
    }
  });

  it('an over-long or empty Idempotency-Key is a 400 naming it wherever the header is accepted', async () => {
    const accepting = operations.filter((op) => op.parameters.some((p) => p.in === 'header' && p.name === 'idempotency-key'));
    // Every operation that starts something takes the header, DELETE included.
    expect(accepting.map((op) => `${op.method} ${op.path}`)).toEqual(
      expect.arrayContaining(['POST /v1/instances', 'DELETE /v1/instances/{idOrSlug}', 'POST /v1/instances/{idOrSlug}/suspend']),
    );
    // A valid body where one is needed, so the header is the only thing wrong (the instance it
    // names does not exist; a provision it let through would be cleaned up with the harness).
    const validBody: Record<string, object> = {
      'POST /v1/instances': { name: 'Key check', slug: h.slug('key'), plan: 'starter', ownerEmail: 'owner@example.com' },
      'POST /v1/instances/{idOrSlug}/upgrade': { version: '2.0.0' },
      'POST /v1/instances/{idOrSlug}/plan': { plan: 'standard' },
      'POST /v1/instances/{idOrSlug}/restore': { backupId: 'bak_00000000000000000000000000' },
      'POST /v1/instances/{idOrSlug}/move': { cluster: 'eu-1' },
    };
    for (const op of accepting) {
      const body = validBody[`${op.method} ${op.path}`];
      for (const key of ['k'.repeat(256), 'k'.repeat(10_000), '']) {
        const res = await request(op, {
          headers: { 'idempotency-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { payload: JSON.stringify(body) } : {}),
        });
        expectContract(op, `idempotency-key of ${key.length}`, res, 400);
        expect.soft(fields(res), `${op.method} ${op.path}`).toContain('idempotency-key');
      }
    }
  });

  it('malformed JSON bodies are a 400 where a body is read', async () => {
    for (const op of operations) {
      for (const payload of ['{', '{"version":', '[', 'nul', '', '{"__proto__":{"x":1}}', '\u0000']) {
        const res = await request(op, { headers: { 'content-type': 'application/json' }, payload });
        expectContract(op, `json ${JSON.stringify(payload)}`, res, op.hasBody ? 400 : undefined);
      }
    }
  });

  it('bodies that are not JSON are a 415 where a body is read', async () => {
    for (const op of operations) {
      for (const [type, payload] of [
        ['application/xml', '<version>2</version>'],
        ['text/plain', '{"version":"2.0.0"}'],
        ['application/x-www-form-urlencoded', 'version=2.0.0'],
        ['multipart/form-data; boundary=x', '--x--'],
        ['application/vnd.shipyard+json', '{}'],
        ['%%%', '{}'],
        [undefined, 'no content type at all'],
      ] as const) {
        const res = await request(op, { headers: type ? { 'content-type': type } : {}, payload: Buffer.from(payload) });
        expectContract(op, `content-type ${type}`, res, op.hasBody ? 415 : undefined);
      }
    }
  });

  it('a body over the limit is a 413 where a body is read', async () => {
    const huge = JSON.stringify({ version: 'x'.repeat(BODY_LIMIT) });
    for (const op of operations) {
      const res = await request(op, { headers: { 'content-type': 'application/json' }, payload: huge });
      expectContract(op, 'huge body', res, op.hasBody ? 413 : undefined);
    }
  });

  it('bad query parameters are a 400 naming the parameter', async () => {
    for (const op of operations) {
      const known = queryParams(op);
      if (known.length === 0) {
        // Nothing is read from the query: it is ignored, not an error.
        expectContract(op, 'stray query', await request(op, { url: `${urlOf(op)}?colour=red` }));
        continue;
      }
      const cases: [string, string][] = [['colour=red', 'colour']];
      if (known.includes('limit')) for (const v of ['0', '101', 'abc', '-1', '1&limit=2']) cases.push([`limit=${v}`, 'limit']);
      if (known.includes('cursor')) {
        const wrongKind = Buffer.from('key_00000000000000000000000000').toString('base64url');
        for (const v of ['nope', '%00', 'a'.repeat(201), wrongKind, '', '%E0%A4%A']) cases.push([`cursor=${v}`, 'cursor']);
      }
      for (const [query, field] of cases) {
        const res = await request(op, { url: `${urlOf(op)}?${query}` });
        expectContract(op, `?${query.slice(0, 30)}`, res, 400);
        // An empty or undecodable value may fail as the whole query string.
        if (!query.endsWith('=') && !query.includes('%E0')) expect.soft(fields(res), `${op.method} ${op.path}?${query.slice(0, 30)}`).toContain(field);
      }
    }
  });

  it('an Accept the API cannot honour is ignored: the answer is JSON as documented', async () => {
    for (const op of operations) {
      for (const accept of ['text/html', 'application/xml', '*/*;q=0', 'garbage;;;']) {
        expectContract(op, `accept ${accept}`, await request(op, { headers: { accept } }));
      }
    }
  });

  it('a method a path does not have is a 405 listing the ones it has', async () => {
    const byPath = new Map<string, DocumentedOperation[]>();
    for (const op of operations) byPath.set(op.path, [...(byPath.get(op.path) ?? []), op]);
    for (const [path, ops] of byPath) {
      const documented = ops.map((op) => op.method);
      // QUERY carries a body that must have a content type: refused as a 405 all the same, unread.
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'QUERY'].filter((m) => !documented.includes(m))) {
        const url = path.replace(/\{\w+\}/g, 'no-such-thing');
        const res = await h.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${h.config.adminKey}` } });
        const what = `${method} ${path} → ${res.statusCode}`;
        expect.soft(res.statusCode, what).toBe(405);
        expect.soft(res.headers['content-type'], what).toMatch(/^application\/problem\+json/);
        const allow = String(res.headers.allow ?? '').split(/,\s*/);
        expect.soft(allow, what).toEqual(expect.arrayContaining(documented));
        expect.soft(allow, what).not.toContain(method);
      }
    }
  });

  it('an unknown route is a 404 problem, with or without a key', async () => {
    for (const url of ['/v1/nothing', '/nothing', '/v1/instances/x/nothing', '/v1/plans/', `/v1/${'x'.repeat(5000)}`]) {
      for (const headers of [{}, { authorization: `Bearer ${h.config.adminKey}` }]) {
        const res = await h.app.inject({ method: 'GET', url, headers });
        expect.soft(res.statusCode, url.slice(0, 40)).toBe(404);
        expect.soft(res.headers['content-type'], url.slice(0, 40)).toMatch(/^application\/problem\+json/);
      }
    }
  });

  it('text that Postgres cannot store is refused in the body, not failed on', async () => {
    const valid = { name: 'Nul', slug: h.slug('nul'), plan: 'starter', ownerEmail: 'owner@example.com', version: '1.0.0' };
    for (const field of ['name', 'slug', 'plan', 'ownerEmail', 'version'] as const) {
      const res = await h.call('operator', { method: 'POST', url: '/v1/instances', payload: { ...valid, [field]: `${valid[field]}\u0000` } });
      expect.soft(res.statusCode, field).toBe(400);
      expect.soft(fields(res), field).toContain(field);
    }
  });
});

describe('what Node refuses before Fastify sees it', () => {
  /** Sends raw bytes to the listening app and returns status, headers and body of the answer. */
  async function raw(request: string): Promise<{ status: number; headers: string; body: string }> {
    const address = h.app.server.address() as net.AddressInfo;
    const text = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(address.port, '127.0.0.1', () => socket.write(request));
      let out = '';
      socket.on('data', (chunk) => (out += chunk));
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
    });
    const [head = '', body = ''] = text.split('\r\n\r\n');
    return { status: Number(head.split(' ')[1]), headers: head, body };
  }

  beforeAll(async () => {
    await h.app.listen({ host: '127.0.0.1', port: 0 });
  });

  it.each([
    ['headers over the size limit', 431, `GET /v1/plans HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(20_000)}\r\n\r\n`],
    ['a request line over the size limit', 431, `GET /v1/instances?cursor=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`],
    ['an unknown method', 400, 'BREW /v1/plans HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a NUL in a header', 400, 'POST /v1/instances/x/suspend HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\u0000b\r\n\r\n'],
    ['a Content-Length that is not a number', 400, 'POST /v1/api-keys HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}'],
    ['Content-Length with chunked encoding', 400, 'POST /v1/api-keys HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['something that is not HTTP', 400, 'HELLO\r\n\r\n'],
  ] as const)('%s: problem+json %i', async (_label, status, bytes) => {
    const res = await raw(bytes);
    expect(res.status).toBe(status);
    expect(res.headers).toMatch(/content-type: application\/problem\+json/i);
    expect(JSON.parse(res.body)).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
  });
});

describe('the OpenAPI document', () => {
  it('names and describes every success response', async () => {
    const doc = (await h.call(null, { method: 'GET', url: '/openapi.json' })).json();
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, any> }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const success = Object.entries(op.responses).filter(([status]) => status.startsWith('2'));
        // The registry webhook tells the registry apart "started a rollout" (202) from "ignored" (200).
        expect(success.length, `${method} ${path}`).toBe(path === '/v1/hooks/registry' ? 2 : 1);
        for (const [status, response] of success) {
          const what = `${method.toUpperCase()} ${path} ${status}`;
          expect.soft(response.description, what).not.toBe('Default Response');
          // A document (an invoice as CSV or a printable page) and an event stream are the answers that are not JSON.
          const documentTypes = Object.keys(response.content).filter((type) => type === 'text/csv' || type === 'text/html' || type === 'text/event-stream');
          if (documentTypes.length > 0) continue;
          expect.soft(response.content['application/json'].schema.$ref, what).toMatch(/^#\/components\/schemas\/\w+$/);
        }
        for (const [status, response] of Object.entries(op.responses).filter(([s]) => !s.startsWith('2'))) {
          expect.soft(response.content['application/problem+json'].schema.$ref, `${method} ${path} ${status}`).toMatch(/Problem$/);
        }
      }
    }
  });
});

describe('/readyz', () => {
  it('names the dependencies that are down, never their errors', async () => {
    // A catalogue and a Temporal nobody listens on: both checks fail with errors that name hosts and users.
    const db = connectCatalogue('postgres://secret_user:secret_password@127.0.0.1:1/secret_db', { max: 1 });
    const connection = Connection.lazy({ address: '127.0.0.1:1' });
    const app = await build({ config: h.config, db, temporal: new Client({ connection, namespace: h.config.temporalNamespace }) });
    try {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toEqual({
        type: expect.any(String),
        title: 'Service unavailable',
        status: 503,
        detail: 'unreachable: catalogue, temporal',
        instance: '/readyz',
      });
      expect(res.body).not.toMatch(/127\.0\.0\.1|secret|ECONNREFUSED|:1\b/);
    } finally {
      await app.close();
      await connection.close().catch(() => undefined);
      await db.$client.end();
    }
  });
});
