import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import * as catalogue from '../../db/catalogue';
import { slugProblem } from '../../domain/validation';
import { idempotent, IdempotencyHeaders } from '../idempotency';
import { instanceView, operationView, provision, startOnInstance, type Deps, type InstanceOperationKind } from '../operations';
import { Problem, problems } from '../problems';
import { Event, IdOrSlugParams, InstanceStatus, Slug, Version } from '../schemas';

const CreateInstance = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S', description: 'display name' }),
    slug: Type.Optional(Slug),
    plan: Type.String({ minLength: 1, maxLength: 64, description: 'a plan name from GET /v1/plans' }),
    ownerEmail: Type.String({ format: 'email', maxLength: 254 }),
    version: Type.Optional(Version),
  },
  { additionalProperties: false },
);

const OperationAccepted = Type.Object({ operation: Type.Ref('Operation') });

const DEFAULT_LIMIT = 20;

const encodeCursor = (id: string) => Buffer.from(id).toString('base64url');
function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString();
  if (!/^ins_[0-9a-z]{26}$/.test(id)) {
    throw new Problem(400, 'the cursor is not one this API returned', { errors: [{ field: 'cursor', message: 'is invalid' }] });
  }
  return id;
}

export const instanceRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, deps) => {
  const { db } = deps;

  async function found(idOrSlug: string) {
    const instance = await catalogue.findInstance(db, idOrSlug);
    if (!instance) throw new Problem(404, `no instance "${idOrSlug}"`);
    return instance;
  }

  app.post(
    '/instances',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Provision a new instance',
        description: 'Starts a provision operation. The slug is derived from the name when not given.',
        tags: ['instances'],
        headers: IdempotencyHeaders,
        body: CreateInstance,
        response: {
          202: Type.Object({ instance: Type.Ref('Instance'), operation: Type.Ref('Operation') }),
          ...problems(400, 401, 403, 409, 413, 415, 422, 500),
        },
      },
    },
    async (request, reply) => {
      const { slug } = request.body;
      const problem = slug === undefined ? undefined : slugProblem(slug);
      if (problem) throw new Problem(400, `slug ${problem}`, { errors: [{ field: 'slug', message: problem }] });
      return idempotent(deps, request, reply, async () => {
        const created = await provision(deps, request.body, request.caller!.name);
        return { status: 202, body: created, headers: { location: `/v1/instances/${created.instance.slug}` } };
      });
    },
  );

  app.get(
    '/instances',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'List instances, oldest first',
        tags: ['instances'],
        querystring: Type.Object(
          {
            status: Type.Optional(InstanceStatus),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_LIMIT })),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the previous page' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(Type.Ref('Instance')),
            nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' }),
          }),
          ...problems(400, 401, 403, 500),
        },
      },
    },
    async (request) => {
      const { status, limit = DEFAULT_LIMIT, cursor } = request.query;
      const page = await catalogue.listInstances(db, { status, limit, after: cursor ? decodeCursor(cursor) : undefined });
      const views = await Promise.all(page.items.map((item) => instanceView(deps, item)));
      const last = page.items.at(-1);
      return {
        // A running row whose workflow turns out closed shows another status than the filter matched.
        items: status ? views.filter((v) => v.status === status) : views,
        nextCursor: page.more && last ? encodeCursor(last.instance.id) : null,
      };
    },
  );

  app.get(
    '/instances/:idOrSlug',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'One instance, with its running operation if any',
        tags: ['instances'],
        params: IdOrSlugParams,
        response: { 200: Type.Ref('Instance'), ...problems(401, 403, 404, 500) },
      },
    },
    async (request) => instanceView(deps, await found(request.params.idOrSlug)),
  );

  const operationRoute = (
    path: string,
    method: 'POST' | 'DELETE',
    kind: InstanceOperationKind,
    summary: string,
    body?: typeof UpgradeBody,
  ) =>
    app.route({
      method,
      url: path,
      config: { role: 'operator' },
      schema: {
        summary,
        description: 'Starts an operation: 409 while another one runs on the instance, or when the instance is in no state for it.',
        tags: ['instances'],
        params: IdOrSlugParams,
        ...(method === 'POST' ? { headers: IdempotencyHeaders } : {}),
        ...(body ? { body } : {}),
        response: { 202: OperationAccepted, ...problems(...(body ? [400] : []), 401, 403, 404, 409, 500) },
      },
      handler: async (request, reply) => {
        const { idOrSlug } = request.params as { idOrSlug: string };
        const version = (request.body as { version?: string } | undefined)?.version;
        return idempotent(deps, request, reply, async () => {
          const operation = await startOnInstance(deps, await found(idOrSlug), kind, request.caller!.name, { version });
          return { status: 202, body: { operation }, headers: { location: `/v1/operations/${operation.id}` } };
        });
      },
    });

  const UpgradeBody = Type.Object({ version: Version }, { additionalProperties: false });
  operationRoute('/instances/:idOrSlug/upgrade', 'POST', 'upgrade', 'Upgrade an instance to another app version', UpgradeBody);
  operationRoute('/instances/:idOrSlug/suspend', 'POST', 'suspend', 'Suspend an instance (scale it to zero)');
  operationRoute('/instances/:idOrSlug/resume', 'POST', 'resume', 'Resume a suspended instance');
  operationRoute('/instances/:idOrSlug', 'DELETE', 'teardown', 'Tear an instance down (its record stays, as deleted)');

  app.get(
    '/instances/:idOrSlug/operations',
    {
      config: { role: 'viewer' },
      schema: {
        summary: "An instance's operations, newest first",
        tags: ['operations'],
        params: IdOrSlugParams,
        response: { 200: Type.Object({ items: Type.Array(Type.Ref('Operation')) }), ...problems(401, 403, 404, 500) },
      },
    },
    async (request) => {
      const { instance } = await found(request.params.idOrSlug);
      const rows = await catalogue.listOperations(db, instance.id);
      return { items: await Promise.all(rows.map((row) => operationView(deps, row))) };
    },
  );

  app.get(
    '/instances/:idOrSlug/events',
    {
      config: { role: 'viewer' },
      schema: {
        summary: "An instance's audit trail, oldest first: who asked for what, and how it ended",
        tags: ['instances'],
        params: IdOrSlugParams,
        response: { 200: Type.Object({ items: Type.Array(Event) }), ...problems(401, 403, 404, 500) },
      },
    },
    async (request) => {
      const { instance } = await found(request.params.idOrSlug);
      const rows = await catalogue.listEvents(db, instance.id);
      return {
        items: rows.map((e) => ({
          id: e.id,
          at: e.at.toISOString(),
          actor: e.actor,
          action: e.action,
          outcome: e.outcome,
          ...(e.operationId ? { operationId: e.operationId } : {}),
          ...(e.message ? { message: e.message } : {}),
        })),
      };
    },
  );
};
