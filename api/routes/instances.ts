import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { listEvents } from '../../db/events';
import { findInstance, listInstances } from '../../db/instances';
import { listOperations } from '../../db/operations';
import { operationKindSpecs, type OperationKindSpec } from '../../domain/operation-kinds';
import type { Scope } from '../../domain/api-keys';
import { slugProblem, textPattern } from '../../domain/validation';
import type { Deps } from '../../lifecycle/deps';
import { instanceView, operationView } from '../../lifecycle/live';
import { requestOperation, type InstanceOperationKind, type RequestedOperation } from '../../lifecycle/operations';
import { provision, type ProvisionRequest } from '../../lifecycle/provision';
import { usageOf } from '../../lifecycle/usage';
import { eventView, listedInstanceView } from '../../lifecycle/views';
import { authorize } from '../auth';
import { idempotent, IdempotencyHeaders } from '../idempotency';
import { undelete } from '../../lifecycle/backups';
import { Problem, problems } from '../problems';
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, Health, IdOrSlugParams, InstanceStatus, pageQuery, PageQuery } from '../schemas';

const instanceCursor = /^ins_[0-9a-z]{26}$/;
const operationCursor = /^op_[0-9a-z]{26}$/;
// Event ids are a bigserial read as JS numbers: at most 15 digits stay exact.
const eventCursor = /^[1-9][0-9]{0,14}$/;

export const instanceRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, deps) => {
  const { db } = deps;

  /** The instance, if the caller's scope reaches it: one outside it is a 404 like one that does not exist. */
  async function found(idOrSlug: string, scope: Scope) {
    const instance = await findInstance(db, idOrSlug, scope);
    if (!instance) throw new Problem(404, `no instance "${idOrSlug}"`);
    return instance;
  }

  const create = operationKindSpecs.provision.route;
  app.route<{ Body: ProvisionRequest }>({
    method: create.method,
    url: create.path,
    config: { role: create.role, ownerScoped: true },
    schema: {
      summary: create.summary,
      description: create.description,
      tags: ['instances'],
      headers: IdempotencyHeaders,
      body: create.body,
      response: {
        202: Type.Ref('ProvisionAccepted', { description: 'Provision started; Location names the instance' }),
        // 403 also for a key bound to an owner asking for another ownerEmail.
        ...problems(400, 403, 409, 422, 503),
      },
    },
    handler: async (request, reply) => {
      authorize(request.caller!, create.roleFor(request.body as unknown as Record<string, unknown>));
      const { slug } = request.body;
      const problem = slug === undefined ? undefined : slugProblem(slug);
      if (problem) throw new Problem(400, `slug ${problem}`, { errors: [{ field: 'slug', message: problem }] });
      return idempotent(deps, request, reply, async () => {
        const created = await provision(deps, request.body, request.caller!.name, request.caller!.scope);
        return { status: 202, body: created, headers: { location: `/v1/instances/${created.instance.slug}` } };
      });
    },
  });

  app.get(
    '/instances',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: 'List instances, oldest first',
        tags: ['instances'],
        querystring: Type.Object(
          {
            status: Type.Optional(InstanceStatus),
            health: Type.Optional(Health),
            plan: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: textPattern, description: 'instances on this plan' })),
            version: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: textPattern, description: 'instances at this version' })),
            search: Type.Optional(Type.String({ minLength: 1, maxLength: 254, pattern: textPattern, description: 'part of the slug or of the owner email, in any case' })),
            ...pageQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Ref('InstancePage', { description: 'A page of instances' }), ...problems(400) },
      },
    },
    async (request) => {
      const { limit = DEFAULT_PAGE_SIZE, cursor, ...filter } = request.query;
      const after = cursor ? decodeCursor(cursor, instanceCursor) : undefined;
      // The filter is applied in SQL, never to the page afterwards: a page is short only at the end.
      const page = await listInstances(db, { ...filter, limit, after }, request.caller!.scope);
      const last = page.items.at(-1);
      return {
        // As the catalogue has them: a page asks Temporal nothing (live steps are on the single-item routes).
        items: page.items.map((item) => listedInstanceView(deps.config, item)),
        nextCursor: page.more && last ? encodeCursor(last.instance.id) : null,
      };
    },
  );

  app.get(
    '/instances/:idOrSlug',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: 'One instance, with its running operation if any',
        tags: ['instances'],
        params: IdOrSlugParams,
        response: { 200: Type.Ref('Instance', { description: 'The instance' }), ...problems(404) },
      },
    },
    async (request) => instanceView(deps, await found(request.params.idOrSlug, request.caller!.scope)),
  );

  // Every other operation a caller may start on an instance, as its kind declares it.
  for (const [kind, spec] of Object.entries(operationKindSpecs) as [InstanceOperationKind | 'provision' | 'cleanup', OperationKindSpec][]) {
    if (kind === 'provision' || kind === 'cleanup' || !spec.route) continue;
    const { route } = spec;
    app.route<{ Params: { idOrSlug: string }; Body: RequestedOperation | undefined; Querystring: RequestedOperation | undefined }>({
      method: route.method,
      url: `/instances/:idOrSlug${route.path}`,
      config: { role: route.role, ownerScoped: true },
      schema: {
        summary: route.summary,
        description: route.description,
        tags: ['instances'],
        params: IdOrSlugParams,
        headers: IdempotencyHeaders,
        ...(route.body ? { body: route.body } : {}),
        ...(route.query ? { querystring: route.query } : {}),
        response: {
          202: Type.Ref('OperationAccepted', { description: 'Operation started; Location names it' }),
          // A body that names a plan may name one the catalogue does not have; a restore, a backup of another instance; a move, a cluster that is not registered.
          ...problems(404, 409, ...(route.body?.properties.plan || route.body?.properties.backupId || route.body?.properties.cluster ? [422] : []), ...(route.roleFor ? [403] : [])),
        },
      },
      handler: async (request, reply) => {
        const requested: RequestedOperation = { ...request.query, ...request.body };
        if (route.roleFor) authorize(request.caller!, route.roleFor({ ...requested }));
        return idempotent(deps, request, reply, async () => {
          const operation = await requestOperation(deps, request.params.idOrSlug, kind, request.caller!.name, requested, request.caller!.scope);
          return { status: 202, body: { operation }, headers: { location: `/v1/operations/${operation.id}` } };
        });
      },
    });
  }

  app.post(
    '/instances/:idOrSlug/undelete',
    {
      config: { role: 'operator', ownerScoped: true },
      schema: {
        summary: 'Take back a delete during its grace period',
        description:
          'The delete operation stops waiting, starts the app again and ends `rolled_back`; the instance is back as it was ' +
          '(same name, credentials and data). 409 when the instance is not deleting, or its purge has begun.',
        tags: ['instances'],
        params: IdOrSlugParams,
        response: { 202: Type.Ref('OperationAccepted', { description: 'Undelete accepted; the delete operation, which now brings the instance back' }), ...problems(404, 409) },
      },
    },
    async (request, reply) => {
      const operation = await undelete(deps, request.params.idOrSlug, request.caller!.name, request.caller!.scope);
      return reply.code(202).header('location', `/v1/operations/${operation.id}`).send({ operation });
    },
  );

  app.get(
    '/instances/:idOrSlug/usage',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: 'What an instance has used in a period, priced',
        description:
          'Seconds per meter and plan (and the largest database size sampled), from the metering ledger plus the hours not metered yet, ' +
          'computed live. `from` defaults to the start of the current month (UTC) and is rounded down to the hour; `to` defaults to now.',
        tags: ['billing'],
        params: IdOrSlugParams,
        querystring: Type.Object(
          { from: Type.Optional(Type.String({ format: 'date-time' })), to: Type.Optional(Type.String({ format: 'date-time' })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Ref('Usage', { description: 'Usage and amounts' }), ...problems(400, 404) },
      },
    },
    async (request) => {
      const now = new Date();
      const to = request.query.to ? new Date(request.query.to) : now;
      const from = request.query.from ? new Date(request.query.from) : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
      if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) {
        throw new Problem(400, '`from` must be a time before `to`', { errors: [{ field: 'from', message: 'must be before to' }] });
      }
      const { instance } = await found(request.params.idOrSlug, request.caller!.scope);
      return usageOf(deps, instance, from, to > now ? now : to);
    },
  );

  app.get(
    '/instances/:idOrSlug/operations',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: "An instance's operations, newest first",
        tags: ['operations'],
        params: IdOrSlugParams,
        querystring: PageQuery,
        response: { 200: Type.Ref('OperationPage', { description: 'A page of operations' }), ...problems(400, 404) },
      },
    },
    async (request) => {
      const { limit = DEFAULT_PAGE_SIZE, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, operationCursor) : undefined;
      const { instance } = await found(request.params.idOrSlug, request.caller!.scope);
      const page = await listOperations(db, instance.id, { limit, after });
      const last = page.items.at(-1);
      return {
        // At most one operation per instance runs, so a page asks Temporal about one at most.
        items: await Promise.all(page.items.map((row) => operationView(deps, row))),
        nextCursor: page.more && last ? encodeCursor(last.id) : null,
      };
    },
  );

  app.get(
    '/instances/:idOrSlug/events',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: "An instance's audit trail, oldest first: who asked for what, and how it ended",
        tags: ['instances'],
        params: IdOrSlugParams,
        querystring: PageQuery,
        response: { 200: Type.Ref('EventPage', { description: 'A page of events' }), ...problems(400, 404) },
      },
    },
    async (request) => {
      const { limit = DEFAULT_PAGE_SIZE, cursor } = request.query;
      const after = cursor ? Number(decodeCursor(cursor, eventCursor)) : undefined;
      const { instance } = await found(request.params.idOrSlug, request.caller!.scope);
      const page = await listEvents(db, instance.id, { limit, after });
      const last = page.items.at(-1);
      return {
        items: page.items.map(eventView),
        nextCursor: page.more && last ? encodeCursor(last.id) : null,
      };
    },
  );
};
