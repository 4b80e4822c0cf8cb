// Every error leaves the API as RFC 9457 application/problem+json: the route handlers' own
// problems, validation failures, and what Fastify and Node answer by themselves (unknown routes
// and methods, malformed URLs, bodies and headers).
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions, RouteOptions } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import {
  Conflict,
  type FieldError,
  InsufficientCapacity,
  PlacementRefused,
  PlacementUnserved,
  InvalidRequest,
  InvalidTransition,
  LifecycleError,
  BackupInUse,
  NameTaken,
  NotFound,
  RolloutRunning,
  SlugTaken,
  OperationRunning,
  OutOfScope,
  Unavailable,
  Unprocessable,
} from '../domain/errors';

export type { FieldError };

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URI naming the kind of problem: one of ProblemType (a client should handle one it does not know by `status`)' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String({ description: 'the request path' })),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() }), {
        description: 'one entry per invalid field (validation failures only)',
      }),
    ),
    operation: Type.Optional(
      Type.Object(
        { id: Type.String(), kind: Type.String() },
        { description: 'the operation already running on the instance (409 only)' },
      ),
    ),
  },
  { $id: 'Problem' },
);

/**
 * Every kind of problem the API answers, each with a `type` URI of its own: a client tells a
 * running operation from a status that forbids the request, or a taken slug from a full cluster,
 * by `type` alone. The OpenAPI document lists them (components.schemas.ProblemType) and each
 * response's description names the types its status may carry.
 */
export const problemTypes = {
  validation: { status: 400, title: 'Invalid request', description: 'a part of the request does not match its schema, or a value is out of range (a cursor, a time range); `errors` names each field' },
  unauthenticated: { status: 401, title: 'Missing or invalid API key', description: 'no `Authorization: Bearer <key>`, or a key that is unknown or revoked (the registry hook: a bad signature)' },
  forbidden: { status: 403, title: 'Not allowed for this API key', description: "the key's role is below the one the route needs (the codec: an origin it does not allow)" },
  'forbidden-owner': { status: 403, title: 'Not allowed for a key bound to an owner', description: 'a key bound to an owner asked for something of another owner (an instance for another ownerEmail) or for something fleet-wide' },
  'not-found': { status: 404, title: 'Not found', description: 'no such instance, operation, rollout, backup, key, webhook, invoice or route (or it is outside the key\'s owner)' },
  'method-not-allowed': { status: 405, title: 'Method not allowed', description: 'the path exists under other methods; `Allow` lists them' },
  timeout: { status: 408, title: 'Request timeout', description: 'the request took too long to arrive' },
  conflict: { status: 409, title: 'Conflict', description: 'another request or run is in the way (the first 409 listed: what a 409 without a more precise type means)' },
  'operation-running': { status: 409, title: 'Another operation is running on the instance', description: '`operation` names it: wait for it (GET /v1/operations/{id}) or cancel it' },
  'invalid-transition': { status: 409, title: 'Not allowed in the current state', description: "the instance's status (or an operation's or rollout's) does not allow the request, e.g. resuming a ready instance or upgrading to the version it runs" },
  'insufficient-capacity': { status: 409, title: 'Insufficient capacity', description: "the cluster has no room for the plan asked for; nothing was created" },
  'placement-refused': { status: 409, title: 'No cluster takes the instance', description: 'every cluster of the region asked for (or the cluster named) is full, drained or offline; `detail` names them; nothing was created or moved' },
  'slug-taken': { status: 409, title: 'Slug taken', description: 'another instance has the slug (or its DNS name); choose another' },
  'name-taken': { status: 409, title: 'Name taken', description: 'a name that must be unique is in use (an API key\'s name)' },
  'rollout-running': { status: 409, title: 'A rollout of the version is running', description: 'pause, abort or wait for the running rollout of the same version' },
  'backup-in-use': { status: 409, title: 'The backup cannot be removed now', description: 'it is still being taken, or it is the only way back for an instance that is deleting or deleted' },
  'period-open': { status: 409, title: 'The period is not closed', description: 'an invoice run for a month whose hours are not all metered yet' },
  'idempotency-key-reused': { status: 409, title: 'Idempotency-Key reused', description: 'the key was already used for a different request' },
  'idempotency-key-in-flight': { status: 409, title: 'Idempotency-Key in flight', description: 'a request with this key is still being handled; retry shortly' },
  'too-large': { status: 413, title: 'Request body too large', description: 'the body is over 64 KiB' },
  'uri-too-long': { status: 414, title: 'Path segment too long', description: 'a path segment is over the router\'s limit' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type', description: 'bodies are `application/json`' },
  unprocessable: { status: 422, title: 'Unprocessable request', description: 'well formed, but names something that does not fit: an unknown plan, a selector that selects nothing, a backup of another instance, a refused webhook URL' },
  'placement-unserved': { status: 422, title: 'No such placement', description: 'no cluster serves the region asked for, or the cluster named is not registered or not in that region; `errors` names the field' },
  'rate-limited': { status: 429, title: 'Too many requests', description: "the key's requests a minute are used up; `Retry-After` says when to retry" },
  'headers-too-large': { status: 431, title: 'Request headers too large', description: 'the request line and headers exceed the server\'s limit' },
  internal: { status: 500, title: 'Internal server error', description: 'a fault on Shipyard\'s side; details are in its logs, never in the answer' },
  unavailable: { status: 503, title: 'Service unavailable', description: 'a dependency did not answer in time (Temporal, a worker that reports capacity); the same request may succeed later' },
} as const satisfies Record<string, { status: number; title: string; description: string }>;

export type ProblemTypeSlug = keyof typeof problemTypes;

/** The `type` URI of a problem slug. */
export const problemTypeUri = (slug: ProblemTypeSlug | `http-${number}`): string => `urn:shipyard:problem:${slug}`;

/** A status's own problem type: the first one listed for it. */
const statusTypes = new Map<number, ProblemTypeSlug>();
for (const [slug, { status }] of Object.entries(problemTypes) as [ProblemTypeSlug, { status: number }][]) {
  if (!statusTypes.has(status)) statusTypes.set(status, slug);
}

export const problemType = (status: number): string => problemTypeUri(statusTypes.get(status) ?? `http-${status}`);

/** The document's list of problem types, each a constant with its status, title and meaning. */
export const ProblemTypeSchema = Type.Union(
  (Object.entries(problemTypes) as [ProblemTypeSlug, (typeof problemTypes)[ProblemTypeSlug]][]).map(([slug, { status, title, description }]) =>
    Type.Literal(problemTypeUri(slug), { title, description: `${status}: ${description}` }),
  ),
  {
    $id: 'ProblemType',
    description: "Every problem `type` Shipyard answers with. A client should treat one it does not know by the problem's `status`.",
  },
);

/**
 * Each refusal of the lifecycle (domain/errors.ts) as the API answers it: a problem type of its
 * own, so a client can tell a running operation from a status that forbids the request. The
 * first class that matches wins (subclasses first).
 */
const lifecycleProblems: [error: abstract new (...args: never[]) => LifecycleError, slug: ProblemTypeSlug][] = [
  [NotFound, 'not-found'],
  [OutOfScope, 'forbidden-owner'],
  [OperationRunning, 'operation-running'],
  [InvalidTransition, 'invalid-transition'],
  [PlacementRefused, 'placement-refused'],
  [InsufficientCapacity, 'insufficient-capacity'],
  [SlugTaken, 'slug-taken'],
  [NameTaken, 'name-taken'],
  [RolloutRunning, 'rollout-running'],
  [BackupInUse, 'backup-in-use'],
  [Conflict, 'conflict'],
  [InvalidRequest, 'validation'],
  [PlacementUnserved, 'placement-unserved'],
  [Unprocessable, 'unprocessable'],
  [Unavailable, 'unavailable'],
];

/** The problem a lifecycle refusal is answered with. */
export function lifecycleProblem(error: LifecycleError): Problem {
  const [, slug] = lifecycleProblems.find(([type]) => error instanceof type) ?? [LifecycleError, 'internal' as const];
  return new Problem(problemTypes[slug].status, error.message, {
    type: slug,
    ...(error.fields ? { errors: error.fields } : {}),
    ...(error instanceof OperationRunning && error.operation ? { operation: error.operation } : {}),
  });
}

/** A failure the API answers on purpose, with a status a client can act on. */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly extra: { errors?: FieldError[]; operation?: { id: string; kind: string }; /** the problem type, when not the status's own */ type?: ProblemTypeSlug } = {},
  ) {
    super(detail);
  }
}

const titleOf = (status: number): string => {
  const slug = statusTypes.get(status);
  return slug ? problemTypes[slug].title : `HTTP ${status}`;
};

/** A response's description: the status's title and the problem types it may carry. */
function describeStatus(status: number): string {
  const types = (Object.entries(problemTypes) as [ProblemTypeSlug, { status: number; title: string }][]).filter(([, t]) => t.status === status);
  if (types.length <= 1) return titleOf(status);
  return `${titleOf(status)}: ${types.map(([slug, t]) => `\`${problemTypeUri(slug)}\` (${t.title.toLowerCase()})`).join(', ')}`;
}

/** The headers every rate-limited request is answered with (api/rate-limit.ts), as OpenAPI documents a 429's. */
const rateLimitHeaders = {
  'Retry-After': { type: 'integer', description: 'seconds until the window ends and requests are taken again' },
  'RateLimit-Limit': { type: 'integer', description: "requests a minute this API key's role may make (per client address without a key)" },
  'RateLimit-Remaining': { type: 'integer', description: 'requests left in the current window (0 here)' },
  'RateLimit-Reset': { type: 'integer', description: 'seconds until the window ends' },
  'X-RateLimit-Limit': { type: 'integer', description: 'the same as RateLimit-Limit' },
  'X-RateLimit-Remaining': { type: 'integer', description: 'the same as RateLimit-Remaining' },
  'X-RateLimit-Reset': { type: 'integer', description: 'the same as RateLimit-Reset' },
};

/** Response schemas for the problem statuses a route can answer, for validation docs and OpenAPI. */
export function problems(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: describeStatus(status),
        ...(status === 429 ? { headers: rateLimitHeaders } : {}),
        content: { 'application/problem+json': { schema: Type.Ref('Problem') } },
      },
    ]),
  );
}

function problemBody(status: number, detail: string | undefined, instance: string | undefined, extra: Problem['extra'] = {}) {
  return {
    type: extra.type ? problemTypeUri(extra.type) : problemType(status),
    title: extra.type ? problemTypes[extra.type].title : titleOf(status),
    status,
    ...(detail ? { detail } : {}),
    ...(instance ? { instance } : {}),
    ...(extra.errors ? { errors: extra.errors } : {}),
    ...(extra.operation ? { operation: extra.operation } : {}),
  };
}

const pathOf = (request: FastifyRequest): string => request.url.split('?')[0]!;

function send(request: FastifyRequest, reply: FastifyReply, status: number, detail: string | undefined, extra: Problem['extra'] = {}) {
  return reply.code(status).type('application/problem+json').send(problemBody(status, detail, pathOf(request), extra));
}

interface SchemaError {
  keyword: string;
  instancePath: string;
  schemaPath?: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** One entry per field from TypeBox's (ajv-shaped) errors; `field` is a dotted path inside the request part. */
export function fieldErrors(errors: SchemaError[], part: string | undefined): FieldError[] {
  const out: FieldError[] = [];
  const base = (path: string) => path.replace(/^\//, '').replaceAll('/', '.');
  const join = (path: string, name: string) => [base(path), name].filter(Boolean).join('.');
  for (const e of errors) {
    // TypeBox also reports each additional property as a failed `false` subschema: already covered.
    if (e.keyword === 'boolean' && e.schemaPath?.endsWith('additionalProperties')) continue;
    if (e.keyword === 'required') {
      for (const name of (e.params?.requiredProperties as string[] | undefined) ?? []) {
        out.push({ field: join(e.instancePath, name), message: 'is required' });
      }
    } else if (e.keyword === 'additionalProperties') {
      for (const name of (e.params?.additionalProperties as string[] | undefined) ?? []) {
        out.push({ field: join(e.instancePath, name), message: 'is not a known field' });
      }
    } else {
      out.push({ field: base(e.instancePath) || part || '(request)', message: e.message ?? 'is invalid' });
    }
  }
  const seen = new Set<string>();
  return out.filter((e) => (seen.has(`${e.field}\0${e.message}`) ? false : (seen.add(`${e.field}\0${e.message}`), true)));
}

/** Methods Fastify never reads a body for: no JSON to break, no size or media type to refuse. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'TRACE']);

/**
 * The problems Fastify itself can answer on a route, before or around its handler, read from
 * the route's shape, so each one is documented without every route repeating them:
 * 400 when any part of the request has a schema or the method carries a body (malformed JSON);
 * 413 and 415 when the method carries a body; 414 when the path has a parameter (a segment over
 * the router's limit); 500 always. What handlers and hooks answer (401, 403, 404, 409, 422,
 * 503) the routes list themselves.
 */
function frameworkStatuses(route: RouteOptions): number[] {
  const schema = route.schema ?? {};
  const methods = ([] as string[]).concat(route.method);
  const carriesBody = methods.some((m) => !BODYLESS_METHODS.has(m));
  const statuses = [500];
  if (route.url.includes(':')) statuses.push(400, 414);
  if (schema.params || schema.querystring || schema.headers || schema.body) statuses.push(400);
  if (carriesBody) statuses.push(400, 413, 415);
  return statuses;
}

/** Adds `statuses` to the route's documented responses, leaving the ones it already has. */
export function documentProblems(route: RouteOptions, statuses: number[]): void {
  // Routes without a schema (the docs UI's files) are not part of the documented API.
  if (!route.schema || route.schema.hide) return;
  const response = (route.schema.response ?? {}) as Record<string, unknown>;
  const missing = [...new Set(statuses)].filter((status) => !(String(status) in response)).sort();
  route.schema.response = { ...response, ...problems(...missing) };
}

/** A route's URL as a pattern over request paths: `:param` is one segment, `*` the rest. */
function pathPattern(url: string): RegExp {
  const segments = url
    .split('/')
    .map((s) => (s.startsWith(':') ? '[^/]+' : s === '*' ? '.*' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${segments.join('/')}$`);
}

/** The router's limit on one path parameter; a longer one is a 414 before any route runs. */
export const MAX_PARAM_LENGTH = 100;

/**
 * Fastify's `frameworkErrors`: what its router refuses before any route or hook runs, a path that
 * is not valid percent-encoded UTF-8 (400) or a parameter over MAX_PARAM_LENGTH (414).
 */
export const frameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (error, request, reply) => {
  const status = error.statusCode ?? 400;
  if (status >= 500) {
    request.log.error({ err: error, method: request.method, url: request.url }, 'request failed');
    send(request, reply, status, undefined);
    return;
  }
  request.log.info({ err: error, url: request.url }, 'request rejected by the router');
  const detail =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? `a path segment is longer than ${MAX_PARAM_LENGTH} characters`
      : error.code === 'FST_ERR_BAD_URL'
        ? 'the path is not valid percent-encoded UTF-8'
        : error.message;
  send(request, reply, status, detail);
};

/**
 * Node's `clientError`: a request its HTTP parser cannot read never reaches Fastify (headers
 * over the size limit → 431, a parse error such as an unknown method or a control character in
 * a header → 400, a request that took too long → 408). Answered as a problem on the raw socket,
 * which is then closed, since the parser cannot go on after an error.
 */
export function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  this.log.info({ err: error }, 'unparseable request rejected');
  const body = JSON.stringify(
    problemBody(status, status === 431 ? 'the request line and headers exceed the server\'s limit' : 'the request is not valid HTTP', undefined),
  );
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/problem+json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
    () => socket.destroy(),
  );
}

export function installProblemHandlers(app: FastifyInstance): void {
  // Every route, as a method and a path pattern: a path that exists under other methods is a 405.
  const routes: { method: string; path: RegExp }[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of ([] as string[]).concat(route.method)) routes.push({ method, path: pathPattern(route.url) });
    documentProblems(route, frameworkStatuses(route));
  });

  app.setErrorHandler((thrown: FastifyError | Problem | LifecycleError, request, reply) => {
    const error = thrown instanceof LifecycleError ? lifecycleProblem(thrown) : thrown;
    if (error instanceof Problem) {
      return send(request, reply, error.status, error.detail, error.extra);
    }
    if (error.validation) {
      const part = error.validationContext;
      const errors = fieldErrors(error.validation as SchemaError[], part);
      return send(request, reply, 400, `the ${part ?? 'request'} is invalid`, { errors });
    }
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err: error, method: request.method, url: request.url }, 'request failed');
      return send(request, reply, status, undefined);
    }
    // Fastify's own 4xx (bad JSON, body too large, wrong content type): their message is for the client.
    request.log.info({ err: error, url: request.url }, 'request rejected');
    return send(request, reply, status, error.message);
  });

  const notFound = (request: FastifyRequest, reply: FastifyReply) => {
    const path = pathOf(request);
    const allowed = [...new Set(routes.filter((r) => r.path.test(path)).map((r) => r.method))].sort();
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return send(request, reply, 405, `${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`);
    }
    return send(request, reply, 404, `no route for ${request.method} ${path}`);
  };
  // Answered on arrival, body unread: Fastify parses an unmatched request's body for the
  // not-found handler, where a QUERY without a content type failed as a 400 instead of a 405.
  app.addHook('onRequest', async (request, reply) => (request.is404 ? notFound(request, reply) : undefined));
  app.setNotFoundHandler(notFound);
}
