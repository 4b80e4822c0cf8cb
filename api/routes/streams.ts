// Server-Sent Events: an operation as it runs, and the fleet's operations and audit trail. The
// readers behind them are lifecycle/streams.ts (one per operation, however many watch); this file
// only authorises, turns messages into the text/event-stream format, and ends a stream when the
// client goes. A stream is a readable the reply sends, so the /v1 hooks (keys, roles, rate
// limits) and the request log apply as to any route; each connection counts as one request.
import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { findInstance } from '../../db/instances';
import { getOperation } from '../../db/operations';
import { operationKinds } from '../../domain/operation-kinds';
import type { Deps } from '../../lifecycle/deps';
import { parseLastEventId, type StreamHub, type StreamMessage, type Unwatch, type Watcher } from '../../lifecycle/streams';
import { Problem, problems } from '../problems';
import { IdParams } from '../schemas';

const EVENT_STREAM = 'text/event-stream';
/** A client this far behind (its socket not draining) is let go: it can reconnect with Last-Event-ID. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** How long a client waits before reconnecting after the connection drops. */
const RETRY_MS = 2_000;

const LastEventIdHeaders = Type.Object({
  'last-event-id': Type.Optional(
    Type.String({ maxLength: 32, description: 'the `id` of the last message received: the stream resumes after it (browsers send it when they reconnect)' }),
  ),
});

const streamResponse = (description: string) => ({
  description,
  content: { [EVENT_STREAM]: { schema: { type: 'string', description: 'Server-Sent Events; each `data:` is one JSON document' } } },
});

/** One message as the text/event-stream format has it. */
export const formatMessage = (m: StreamMessage): string => `event: ${m.event}\nid: ${m.id}\ndata: ${JSON.stringify(m.data)}\n\n`;

/**
 * Starts the event stream answering `request`: the reply sends a readable that `watch` fills.
 * Keep-alive comments keep proxies from closing an idle stream; a client that disconnects (or falls
 * too far behind) stops its watch.
 */
function stream(request: FastifyRequest, reply: FastifyReply, keepAliveMs: number, watch: (watcher: Watcher) => Unwatch): FastifyReply {
  const body = new PassThrough();
  let unwatch: Unwatch | undefined;
  const keepAlive = setInterval(() => write(': keep-alive\n\n'), keepAliveMs);
  const stop = () => {
    clearInterval(keepAlive);
    unwatch?.();
  };
  function write(text: string): void {
    if (body.destroyed || body.writableEnded) return;
    if (body.writableLength > MAX_BUFFERED_BYTES) {
      request.log.warn({ route: request.routeOptions.url }, 'event stream client too slow; closing its stream');
      body.destroy();
      return;
    }
    body.write(text);
  }
  body.on('close', stop);
  // The retry hint goes first, so the headers leave at once and the client knows the stream is up.
  write(`retry: ${RETRY_MS}\n\n`);
  unwatch = watch({
    send: (message) => write(formatMessage(message)),
    close: () => {
      stop();
      if (!body.writableEnded) body.end();
    },
  });
  if (body.destroyed || body.writableEnded) unwatch();
  return reply
    .header('content-type', `${EVENT_STREAM}; charset=utf-8`)
    .header('cache-control', 'no-cache, no-transform')
    // nginx (and ingress-nginx) would otherwise buffer the stream.
    .header('x-accel-buffering', 'no')
    .send(body);
}

export const streamRoutes: FastifyPluginAsyncTypebox<Deps & { streams: StreamHub }> = async (app, { streams, ...deps }) => {
  const keepAliveMs = deps.config.streamKeepAliveSeconds * 1000;

  app.get(
    '/operations/:id/events',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: 'An operation as it runs, as Server-Sent Events',
        description:
          '`event: operation` with the operation (as GET /v1/operations/{id}) on connecting and on every change (steps, a step\'s `detail`, ' +
          'status); `event: audit` with each audit event of its instance since the operation started (as GET /v1/instances/{id}/events); ' +
          'then `event: end` with the final operation, and the stream ends. A `: keep-alive` comment comes every 15 s ' +
          '(SHIPYARD_STREAM_KEEPALIVE_SECONDS). Send `Last-Event-ID` to resume after a message: what came after it, and the ' +
          'operation again if it may have changed.',
        tags: ['operations'],
        params: IdParams,
        headers: LastEventIdHeaders,
        produces: [EVENT_STREAM],
        response: { 200: streamResponse('The stream, until the operation ends'), ...problems(404) },
      },
    },
    async (request, reply) => {
      const row = await getOperation(deps.db, request.params.id, request.caller!.scope);
      if (!row) throw new Problem(404, `no operation "${request.params.id}"`);
      const lastId = parseLastEventId(request.headers['last-event-id']);
      return stream(request, reply, keepAliveMs, (watcher) => streams.watchOperation(row, watcher, lastId));
    },
  );

  app.get(
    '/events',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: "The fleet's operations and audit trail as they happen, as Server-Sent Events",
        description:
          '`event: operation` with an operation (as GET /v1/operations/{id}) when one starts, changes or ends — on connecting, the ' +
          'ones running now; `event: audit` with each new audit event (as GET /v1/instances/{id}/events). `instance` (id or slug) ' +
          'and `kind` narrow both (an audit event matches `kind` by its action). A key bound to an owner sees that owner\'s ' +
          'instances only. A `: keep-alive` comment comes every 15 s; send `Last-Event-ID` to resume after a message. The stream ' +
          'does not end on its own.',
        tags: ['operations'],
        headers: LastEventIdHeaders,
        querystring: Type.Object(
          {
            instance: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$', description: 'instance id (ins_…) or slug' })),
            kind: Type.Optional(Type.Enum(operationKinds)),
          },
          { additionalProperties: false },
        ),
        produces: [EVENT_STREAM],
        response: { 200: streamResponse('The stream, until the client leaves'), ...problems(400, 404) },
      },
    },
    async (request, reply) => {
      const { scope } = request.caller!;
      let instanceId: string | undefined;
      if (request.query.instance !== undefined) {
        const found = await findInstance(deps.db, request.query.instance, scope);
        if (!found) throw new Problem(404, `no instance "${request.query.instance}"`);
        instanceId = found.instance.id;
      }
      const lastId = parseLastEventId(request.headers['last-event-id']);
      const filter = { scope, ...(instanceId ? { instanceId } : {}), ...(request.query.kind ? { kind: request.query.kind } : {}) };
      return stream(request, reply, keepAliveMs, (watcher) => streams.watchFleet(filter, watcher, lastId));
    },
  );
};
