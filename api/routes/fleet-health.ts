// Fleet health: sweeps (the same workflow the `shipyard-health-sweep` schedule starts) and one
// instance's checks, from the last sweep or run now.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import type { InstanceHealth } from '../../activities/health';
import { newId } from '../../db/ids';
import { findInstance } from '../../db/instances';
import { recordEvent } from '../../db/events';
import { getSweep, lastOrphanSweep, listSweeps, openSweep, type SweepRow } from '../../db/sweeps';
import type { Scope } from '../../domain/api-keys';
import type { Deps } from '../../lifecycle/deps';
import { Problem, problems } from '../problems';
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, IdOrSlugParams, IdParams, PageQuery } from '../schemas';

const sweepView = (row: SweepRow) => ({
  id: row.id,
  status: row.status,
  startedAt: row.startedAt.toISOString(),
  ...(row.endedAt ? { endedAt: row.endedAt.toISOString() } : {}),
  checked: row.checked,
  healthy: row.healthy,
  degraded: row.degraded,
  unhealthy: row.unhealthy,
  healed: row.healed,
  errors: row.errors,
  offlineClusters: row.offlineClusters ?? [],
});

/** `cluster` on a health report, only for an instance placed in one. */
const placedIn = (instance: { cluster: string | null }) => (instance.cluster === null ? {} : { cluster: instance.cluster });

const sweepCursor = /^swp_[0-9a-z]{26}$/;
export const SWEEP_TIMEOUT = '6h';
/** How long `POST …/health/check` waits for the check (and its heals) before answering 503. */
const CHECK_DEADLINE_MS = 120_000;

export const fleetHealthRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, { db, config, temporal }) => {
  app.post(
    '/health/sweeps',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Run a health sweep now (the scheduled one, started by hand)',
        tags: ['health'],
        response: { 202: Type.Ref('SweepAccepted', { description: 'The sweep, running' }) },
      },
    },
    async (request, reply) => {
      const id = newId('swp');
      const workflowId = `health-sweep:${id}`;
      const sweep = await openSweep(db, workflowId, id);
      await temporal.workflow.start('healthSweep', {
        workflowId,
        taskQueue: config.taskQueue,
        args: [{ parallelism: config.healthParallelism, sweepId: sweep.id }],
        // A sweep no worker picks up (a deployment without workers) does not stay open for ever.
        workflowExecutionTimeout: SWEEP_TIMEOUT,
      });
      await recordEvent(db, { actor: request.caller!.name, action: 'health.sweep', outcome: 'requested', message: sweep.id });
      return reply.code(202).header('location', `/v1/health/sweeps/${sweep.id}`).send({ sweep: sweepView(sweep) });
    },
  );

  app.get(
    '/health/sweeps',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Recent health sweeps, newest first',
        tags: ['health'],
        querystring: PageQuery,
        response: { 200: Type.Ref('SweepPage', { description: 'A page of sweeps' }), ...problems(400) },
      },
    },
    async (request) => {
      const { limit = DEFAULT_PAGE_SIZE, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, sweepCursor) : undefined;
      const page = await listSweeps(db, { limit, after });
      const last = page.items.at(-1);
      return { items: page.items.map(sweepView), nextCursor: page.more && last ? encodeCursor(last.id) : null };
    },
  );

  app.get(
    '/health/sweeps/:id',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'One health sweep: its status and totals (live while it runs)',
        tags: ['health'],
        params: IdParams,
        response: { 200: Type.Ref('Sweep', { description: 'The sweep' }), ...problems(404) },
      },
    },
    async (request) => {
      const row = await getSweep(db, request.params.id);
      if (!row) throw new Problem(404, `no health sweep "${request.params.id}"`);
      return sweepView(row);
    },
  );

  app.get(
    '/health/orphans',
    {
      config: { role: 'viewer' },
      schema: {
        summary: "Namespaces, DNS records and tenant databases with Shipyard's marks and no live instance, as the newest sweep found them",
        tags: ['health'],
        response: { 200: Type.Ref('OrphanList', { description: 'What the newest sweep found; removed by sweeps when SHIPYARD_ORPHAN_CLEANUP=true' }) },
      },
    },
    async () => {
      // The worker holds the Kubernetes, Route 53 and Postgres clients: every sweep looks, and
      // this answers from the newest sweep that did.
      const sweep = await lastOrphanSweep(db);
      return { items: sweep?.orphans ?? [], sweepId: sweep?.id ?? null, checkedAt: (sweep?.endedAt ?? sweep?.startedAt)?.toISOString() ?? null };
    },
  );

  /** The instance, if the caller's scope reaches it: one outside it is a 404 like one that does not exist. */
  const instanceOr404 = async (idOrSlug: string, scope: Scope) => {
    const found = await findInstance(db, idOrSlug, scope);
    if (!found) throw new Problem(404, `no instance "${idOrSlug}"`);
    return found;
  };
  const notChecked = (instance: { slug: string; status: string }) =>
    `${instance.slug} is ${instance.status}${instance.status === 'ready' || instance.status === 'suspended' ? ' with an operation running' : ''}; only a ready or suspended instance with no operation running is checked`;

  app.get(
    '/instances/:idOrSlug/health',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: "An instance's health and each check, from its last check",
        tags: ['health'],
        params: IdOrSlugParams,
        response: { 200: Type.Ref('HealthReport', { description: 'The last verdict' }), ...problems(404) },
      },
    },
    async (request) => {
      const { instance } = await instanceOr404(request.params.idOrSlug, request.caller!.scope);
      return { ...placedIn(instance), health: instance.health, checkedAt: instance.healthCheckedAt?.toISOString() ?? null, checks: instance.healthChecks };
    },
  );

  app.post(
    '/instances/:idOrSlug/health/check',
    {
      config: { role: 'operator', ownerScoped: true },
      schema: {
        summary: 'Check (and heal) one instance now; answers with the result',
        tags: ['health'],
        params: IdOrSlugParams,
        response: { 200: Type.Ref('HealthReport', { description: 'The new verdict' }), ...problems(404, 409, 503) },
      },
    },
    async (request) => {
      const { instance, running } = await instanceOr404(request.params.idOrSlug, request.caller!.scope);
      // Refused at once when the catalogue already says so (the check's workflow looks again).
      if ((instance.status !== 'ready' && instance.status !== 'suspended') || running) throw new Problem(409, notChecked(instance), { type: 'invalid-transition' });
      // Two checks asked at once share one run.
      const handle = await temporal.workflow.start('checkInstanceNow', {
        workflowId: `health-check:${instance.id}`,
        taskQueue: config.taskQueue,
        args: [instance.id],
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
      let result: InstanceHealth | null;
      try {
        result = await temporal.withDeadline(Date.now() + CHECK_DEADLINE_MS, () => handle.result() as Promise<InstanceHealth | null>);
      } catch {
        throw new Problem(503, `the check of ${instance.slug} did not finish within ${CHECK_DEADLINE_MS / 1000}s; its result will show on GET …/health`);
      }
      if (!result) {
        const now = (await findInstance(db, instance.id))?.instance ?? instance;
        throw new Problem(409, notChecked(now), { type: 'invalid-transition' });
      }
      const checkedAt = (await findInstance(db, instance.id))?.instance.healthCheckedAt;
      return { ...placedIn(instance), health: result.health, checkedAt: checkedAt?.toISOString() ?? null, checks: result.checks };
    },
  );
};
