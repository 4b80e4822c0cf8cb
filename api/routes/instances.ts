import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { findInstance, listInstances } from '../../db/instances';
import { listOperations } from '../../db/operations';
import { listEvents } from '../../db/events';
import { slugProblem } from '../../domain/validation';
import { idempotent, IdempotencyHeaders } from '../idempotency';
import type { Deps } from '../../lifecycle/deps';
import { instanceView, operationView } from '../../lifecycle/live';
import { startOnInstance, type InstanceOperationKind } from '../../lifecycle/operations';
import { knownPlan, provision } from '../../lifecycle/provision';
import { listedInstanceView } from '../../lifecycle/views';
import { usageOf } from '../../lifecycle/usage';
import { Problem, problems } from '../problems';
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, Health, IdOrSlugParams, InstanceStatus, pageQuery, PageQuery, Slug, textPattern, Version } from '../schemas';

const CreateInstance = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: textPattern, description: 'display name' }),
    slug: Type.Optional(Slug),
    plan: Type.String({ minLength: 1, maxLength: 64, pattern: textPattern, description: 'a plan name from GET /v1/plans' }),
    ownerEmail: Type.String({ format: 'email', maxLength: 254, pattern: textPattern }),
    version: Type.Optional(Version),
  },
  { additionalProperties: false },
);

const instanceCursor = /^ins_[0-9a-z]{26}$/;
const operationCursor = /^op_[0-9a-z]{26}$/;
// Event ids are a bigserial read as JS numbers: at most 15 digits stay exact.
const eventCursor = /^[1-9][0-9]{0,14}$/;


export const instanceRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, deps) => {
  const { db } = deps;

  async function found(idOrSlug: string) {
    const instance = await findInstance(db, idOrSlug);
    if (!instance) throw new Problem(404, `no instance "${idOrSlug}"`);
    return instance;
  }

  app.post(
    '/instances',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Provision a new instance',
        description:
          'Starts a provision operation. The slug is derived from the name when not given. A plan the cluster has no room for is ' +
          'refused (409) before anything is created; 503 when no worker lists the cluster for that check within 30 s.',
        tags: ['instances'],
        headers: IdempotencyHeaders,
        body: CreateInstance,
        response: {
          202: Type.Ref('ProvisionAccepted', { description: 'Provision started; Location names the instance' }),
          ...problems(400, 409, 422, 503),
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
        querystring: Type.Object({ status: Type.Optional(InstanceStatus), health: Type.Optional(Health), ...pageQuery }, { additionalProperties: false }),
        response: { 200: Type.Ref('InstancePage', { description: 'A page of instances' }), ...problems(400) },
      },
    },
    async (request) => {
      const { status, health, limit = DEFAULT_PAGE_SIZE, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, instanceCursor) : undefined;
      // The filter is applied in SQL, never to the page afterwards: a page is short only at the end.
      const page = await listInstances(db, { status, health, limit, after });
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
      config: { role: 'viewer' },
      schema: {
        summary: 'One instance, with its running operation if any',
        tags: ['instances'],
        params: IdOrSlugParams,
        response: { 200: Type.Ref('Instance', { description: 'The instance' }), ...problems(404) },
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
        headers: IdempotencyHeaders,
        ...(body ? { body } : {}),
        response: {
          202: Type.Ref('OperationAccepted', { description: 'Operation started; Location names it' }),
          ...problems(404, 409),
        },
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

  app.post(
    '/instances/:idOrSlug/plan',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Move an instance to another plan',
        description:
          'Starts a change_plan operation (from ready or suspended): quota, limit range, connection limit and size are changed, ' +
          'after a capacity check; if the new size does not roll out, the previous plan is restored (rolled_back).',
        tags: ['instances'],
        params: IdOrSlugParams,
        headers: IdempotencyHeaders,
        body: Type.Object(
          { plan: Type.String({ minLength: 1, maxLength: 64, pattern: textPattern, description: 'a plan name from GET /v1/plans' }) },
          { additionalProperties: false },
        ),
        response: {
          202: Type.Ref('OperationAccepted', { description: 'Operation started; Location names it' }),
          ...problems(404, 409, 422),
        },
      },
    },
    async (request, reply) =>
      idempotent(deps, request, reply, async () => {
        const instance = await found(request.params.idOrSlug);
        const plan = await knownPlan(db, request.body.plan);
        const operation = await startOnInstance(deps, instance, 'change_plan', request.caller!.name, { plan });
        return { status: 202, body: { operation }, headers: { location: `/v1/operations/${operation.id}` } };
      }),
  );

  app.get(
    '/instances/:idOrSlug/usage',
    {
      config: { role: 'viewer' },
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
      const { instance } = await found(request.params.idOrSlug);
      return usageOf(deps, instance, from, to > now ? now : to);
    },
  );

  app.get(
    '/instances/:idOrSlug/operations',
    {
      config: { role: 'viewer' },
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
      const { instance } = await found(request.params.idOrSlug);
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
      config: { role: 'viewer' },
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
      const { instance } = await found(request.params.idOrSlug);
      const page = await listEvents(db, instance.id, { limit, after });
      const last = page.items.at(-1);
      return {
        items: page.items.map((e) => ({
          id: e.id,
          at: e.at.toISOString(),
          actor: e.actor,
          action: e.action,
          outcome: e.outcome,
          ...(e.operationId ? { operationId: e.operationId } : {}),
          ...(e.message ? { message: e.message } : {}),
        })),
        nextCursor: page.more && last ? encodeCursor(last.id) : null,
      };
    },
  );
};
