// The fleet at a glance, for the dashboard's overview: instances counted by what they show, the
// operations that ended lately by outcome and hour, and the newest failures. A few grouped
// queries whatever the fleet's size; each limited to the caller's scope.
import { and, desc, eq, gte, inArray, isNotNull, sql } from 'drizzle-orm';
import type { Scope } from '../domain/api-keys';
import type { Health } from '../domain/health';
import type { InstanceStatus } from '../domain/instance';
import { type OperationKind, shownStatus } from '../domain/operation-kinds';
import type { Database } from './client';
import { instancesInScope, runningOperationKinds } from './instances';
import { instances, operations } from './schema';

export interface InstanceTally {
  status: InstanceStatus;
  health: Health;
  plan: string;
  version: string;
  count: number;
}

/** Instances grouped by the status the API shows (a running operation's, else the stored one), health, plan and version. */
export async function tallyInstances(db: Database, scope: Scope): Promise<InstanceTally[]> {
  const running = runningOperationKinds(db);
  const rows = await db
    .select({
      stored: instances.status,
      kind: running.kind,
      health: instances.health,
      plan: instances.plan,
      version: instances.version,
      count: sql<number>`count(*)::int`,
    })
    .from(instances)
    .leftJoin(running, eq(running.instanceId, instances.id))
    .where(instancesInScope(scope))
    .groupBy(instances.status, running.kind, instances.health, instances.plan, instances.version);
  return rows.map((r) => ({ status: shownStatus(r.stored, r.kind ?? undefined), health: r.health, plan: r.plan, version: r.version, count: r.count }));
}

export const endedOutcomes = ['succeeded', 'rolled_back', 'failed'] as const;
export type EndedOutcome = (typeof endedOutcomes)[number];

/** Operations that ended since `since`, counted per hour (UTC) and outcome. */
export async function outcomesByHour(db: Database, since: Date, scope: Scope): Promise<{ hour: Date; status: EndedOutcome; count: number }[]> {
  const hour = sql<string>`date_trunc('hour', ${operations.endedAt})`;
  const rows = await db
    .select({ hour, status: operations.status, count: sql<number>`count(*)::int` })
    .from(operations)
    .innerJoin(instances, eq(instances.id, operations.instanceId))
    .where(and(gte(operations.endedAt, since), inArray(operations.status, [...endedOutcomes]), instancesInScope(scope)))
    .groupBy(hour, operations.status);
  return rows.map((r) => ({ hour: new Date(r.hour), status: r.status as EndedOutcome, count: r.count }));
}

export interface FailureRow {
  operationId: string;
  kind: OperationKind;
  status: 'failed' | 'rolled_back';
  error: string | null;
  endedAt: Date | null;
  slug: string;
}

/** The operations that failed or rolled back most recently, with their instance's slug. */
export async function newestFailures(db: Database, limit: number, scope: Scope): Promise<FailureRow[]> {
  const rows = await db
    .select({
      operationId: operations.id,
      kind: operations.kind,
      status: operations.status,
      error: operations.error,
      endedAt: operations.endedAt,
      slug: instances.slug,
    })
    .from(operations)
    .innerJoin(instances, eq(instances.id, operations.instanceId))
    .where(and(inArray(operations.status, ['failed', 'rolled_back']), isNotNull(operations.endedAt), instancesInScope(scope)))
    .orderBy(desc(operations.endedAt), desc(operations.id))
    .limit(limit);
  return rows.map((r) => ({ ...r, status: r.status as FailureRow['status'] }));
}
