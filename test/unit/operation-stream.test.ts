// Following an operation: the event stream as its contract has it (operation, audit, end, keep-alive
// comments, Last-Event-ID to resume), and polling when the answer is no event stream. Served by a
// small HTTP server in the test: the contract, not Shipyard's implementation of it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createShipyardClient, type Operation } from '../../client/index';
import { followOperation, type OperationUpdate } from '../../cli/ops/operation-stream';

const operation = (status: Operation['status'], steps: Operation['steps']): Operation => ({
  id: 'op_1',
  instanceId: 'ins_1',
  kind: 'provision',
  status,
  steps,
  actor: 'admin',
  startedAt: '2026-01-01T00:00:00Z',
  ...(status === 'running' ? {} : { endedAt: '2026-01-01T00:00:05Z' }),
});
const running = operation('running', [{ name: 'create namespace', status: 'running', attempt: 1 }]);
const done = operation('succeeded', [{ name: 'create namespace', status: 'done', attempt: 1 }]);

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function serve(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function collect(url: string, onFallback?: (reason: string) => void): Promise<OperationUpdate[]> {
  const connection = { url, key: 'sy_test', source: 'test' };
  const client = createShipyardClient({ baseUrl: url, apiKey: 'sy_test' });
  const updates: OperationUpdate[] = [];
  for await (const update of followOperation(connection, client, 'op_1', { pollMs: 10, ...(onFallback ? { onFallback } : {}) })) updates.push(update);
  return updates;
}

const sse = (event: string, id: number, data: unknown) => `event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`;

describe('following an operation', () => {
  it('reads the event stream with the key, audit events included, and ends at `end`', async () => {
    const seen: (string | undefined)[] = [];
    const url = await serve((request, response) => {
      seen.push(request.headers.authorization, request.headers.accept);
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(sse('operation', 1, running));
      response.write(': keep-alive\n\n');
      response.write(sse('audit', 2, { id: 7, at: '2026-01-01T00:00:01Z', actor: 'admin', action: 'provision', outcome: 'requested' }));
      response.end(sse('end', 3, done));
    });
    const updates = await collect(url);
    expect(seen).toEqual(['Bearer sy_test', 'text/event-stream']);
    expect(updates.map((u) => (u.type === 'operation' ? `${u.operation.status}${u.final ? ' (final)' : ''}` : `audit ${u.event.action}`))).toEqual([
      'running',
      'audit provision',
      'succeeded (final)',
    ]);
  });

  it('resumes a cut stream from the last event id', async () => {
    const lastIds: (string | undefined)[] = [];
    const url = await serve((request, response) => {
      lastIds.push(request.headers['last-event-id'] as string | undefined);
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      if (lastIds.length === 1) response.end(sse('operation', 4, running));
      else response.end(sse('end', 5, done));
    });
    const updates = await collect(url);
    expect(lastIds).toEqual([undefined, '4']);
    expect(updates.at(-1)).toMatchObject({ type: 'operation', final: true, operation: { status: 'succeeded' } });
  });

  it('polls GET /v1/operations/{id} when the stream route answers 404', async () => {
    let polls = 0;
    const url = await serve((request, response) => {
      if (request.url?.endsWith('/events')) {
        response.writeHead(404, { 'content-type': 'application/problem+json' });
        response.end(JSON.stringify({ type: 'urn:shipyard:problem:not-found', title: 'Not found', status: 404 }));
        return;
      }
      polls += 1;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(polls < 3 ? running : done));
    });
    const reasons: string[] = [];
    const updates = await collect(url, (reason) => reasons.push(reason));
    expect(reasons).toEqual([expect.stringContaining('answered 404')]);
    // The same snapshot polled twice is one update.
    expect(updates.map((u) => u.type === 'operation' && u.operation.status)).toEqual(['running', 'succeeded']);
    expect(polls).toBe(3);
  });
});
