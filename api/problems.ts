// Every error leaves the API as RFC 9457 application/problem+json, from one handler.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URI naming the kind of problem' }),
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

const problemTitles: Record<number, [slug: string, title: string]> = {
  400: ['validation', 'Invalid request'],
  401: ['unauthenticated', 'Missing or invalid API key'],
  403: ['forbidden', 'Not allowed for this API key'],
  404: ['not-found', 'Not found'],
  409: ['conflict', 'Conflict'],
  413: ['too-large', 'Request body too large'],
  415: ['unsupported-media-type', 'Unsupported media type'],
  422: ['unprocessable', 'Unprocessable request'],
  500: ['internal', 'Internal server error'],
  503: ['unavailable', 'Service unavailable'],
};

export const problemType = (status: number): string =>
  `urn:shipyard:problem:${problemTitles[status]?.[0] ?? 'http-' + status}`;

export interface FieldError {
  field: string;
  message: string;
}

/** A failure the API answers on purpose, with a status a client can act on. */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly extra: { errors?: FieldError[]; operation?: { id: string; kind: string }; title?: string } = {},
  ) {
    super(detail);
  }
}

/** Response schemas for the problem statuses a route can answer, for validation docs and OpenAPI. */
export function problems(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: problemTitles[status]?.[1] ?? `HTTP ${status}`,
        content: { 'application/problem+json': { schema: Type.Ref('Problem') } },
      },
    ]),
  );
}

function send(request: FastifyRequest, reply: FastifyReply, status: number, detail: string | undefined, extra: Problem['extra'] = {}) {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({
      type: problemType(status),
      title: extra.title ?? problemTitles[status]?.[1] ?? `HTTP ${status}`,
      status,
      ...(detail ? { detail } : {}),
      instance: request.url.split('?')[0],
      ...(extra.errors ? { errors: extra.errors } : {}),
      ...(extra.operation ? { operation: extra.operation } : {}),
    });
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

export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | Problem, request, reply) => {
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

  app.setNotFoundHandler((request, reply) => send(request, reply, 404, `no route for ${request.method} ${request.url.split('?')[0]}`));
}
