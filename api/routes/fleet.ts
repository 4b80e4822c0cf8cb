// The fleet at a glance (the dashboard's overview): one request, a few grouped queries, whatever
// the fleet's size. A key bound to an owner sees its own instances only.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@fastify/type-provider-typebox';
import { endedOutcomes, newestFailures, outcomesByHour, tallyInstances, type InstanceTally } from '../../db/fleet';
import type { Deps } from '../../lifecycle/deps';
import { operationKinds } from '../../domain/operation-kinds';

const HOURS = 24;
const FAILURES = 10;

const Tally = Type.Array(Type.Object({ key: Type.String(), count: Type.Integer() }), { description: 'largest first' });

export const FleetSummary = Type.Object(
  {
    instances: Type.Object({
      total: Type.Integer({ description: 'deleted ones included (byStatus tells them apart)' }),
      byStatus: Tally,
      byHealth: Tally,
      byPlan: Tally,
      byVersion: Tally,
    }),
    operations: Type.Object({
      since: Type.String({ format: 'date-time', description: `the start of the hour ${HOURS} hours ago` }),
      hours: Type.Array(
        Type.Object({ hour: Type.String({ format: 'date-time' }), succeeded: Type.Integer(), rolledBack: Type.Integer(), failed: Type.Integer() }),
        { description: `operations that ended in each hour (UTC), oldest first: ${HOURS} hours up to the current one` },
      ),
    }),
    failures: Type.Array(
      Type.Object({
        operationId: Type.String(),
        slug: Type.String(),
        kind: Type.Enum(operationKinds),
        status: Type.Enum(['failed', 'rolled_back']),
        error: Type.Optional(Type.String()),
        endedAt: Type.String({ format: 'date-time' }),
      }),
      { description: `the ${FAILURES} operations that failed or rolled back last, newest first` },
    ),
  },
  { $id: 'FleetSummary' },
);

/** Counts per value of one field, largest first (ties by name). */
function tally(rows: InstanceTally[], field: 'status' | 'health' | 'plan' | 'version') {
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row[field], (counts.get(row[field]) ?? 0) + row.count);
  return [...counts]
    .map(([key, count]) => ({ key, count }))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
}

export const fleetRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, { db }) => {
  app.get(
    '/fleet/summary',
    {
      config: { role: 'viewer', ownerScoped: true },
      schema: {
        summary: 'The fleet at a glance: instances by status, health, plan and version; the last day of operations; the newest failures',
        tags: ['instances'],
        response: { 200: Type.Ref('FleetSummary', { description: 'The summary' }) },
      },
    },
    async (request) => {
      const scope = request.caller!.scope;
      const hourMs = 3_600_000;
      const currentHour = Math.floor(Date.now() / hourMs) * hourMs;
      const since = new Date(currentHour - (HOURS - 1) * hourMs);
      const [tallies, outcomes, failures] = await Promise.all([
        tallyInstances(db, scope),
        outcomesByHour(db, since, scope),
        newestFailures(db, FAILURES, scope),
      ]);
      const hours = Array.from({ length: HOURS }, (_, i) => ({ hour: new Date(since.getTime() + i * hourMs).toISOString(), succeeded: 0, rolledBack: 0, failed: 0 }));
      const field = { succeeded: 'succeeded', rolled_back: 'rolledBack', failed: 'failed' } as const satisfies Record<(typeof endedOutcomes)[number], string>;
      for (const o of outcomes) {
        const bucket = hours[Math.round((o.hour.getTime() - since.getTime()) / hourMs)];
        if (bucket) bucket[field[o.status]] += o.count;
      }
      return {
        instances: {
          total: tallies.reduce((sum, t) => sum + t.count, 0),
          byStatus: tally(tallies, 'status'),
          byHealth: tally(tallies, 'health'),
          byPlan: tally(tallies, 'plan'),
          byVersion: tally(tallies, 'version'),
        },
        operations: { since: since.toISOString(), hours },
        failures: failures.map((f) => ({
          operationId: f.operationId,
          slug: f.slug,
          kind: f.kind,
          status: f.status,
          ...(f.error ? { error: f.error } : {}),
          endedAt: (f.endedAt ?? new Date(0)).toISOString(),
        })),
      };
    },
  );
};
