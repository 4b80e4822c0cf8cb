// Operations: their rows, the inserts that start them and the instance claim that follows, and the
// writes that finish or repair them.
import { and, asc, desc, eq, gte, inArray, isNotNull, lt, or, sql } from 'drizzle-orm';
import type { Scope } from '../domain/api-keys';
import type { InstanceStatus } from '../domain/instance';
import { type OperationKind, transitionalStatuses } from '../domain/operation-kinds';
import type { OperationResult } from '../domain/operations';
import type { Database, Transaction } from './client';
import { isUniqueViolation } from './errors';
import { recordEvent, type NewEvent } from './events';
import { markInstanceIn, ofInstancesInScope, recordStatusChange, runningOperation, type InstanceRow } from './instances';
import { events, instances, instanceStatusChanges, operations } from './schema';

export type OperationRow = typeof operations.$inferSelect;

/** An operation by id; one of an instance outside `scope` is not found. */
export async function getOperation(db: Database, id: string, scope: Scope = {}): Promise<OperationRow | undefined> {
  const [op] = await db.select().from(operations).where(and(eq(operations.id, id), ofInstancesInScope(operations.instanceId, scope)));
  return op;
}

/** A page of an instance's operations, newest first; `after` is the last id of the previous page. */
export async function listOperations(
  db: Database,
  instanceId: string,
  page: { limit: number; after?: string },
): Promise<{ items: OperationRow[]; more: boolean }> {
  // Ordered by start time (the database's clock, finer than the millisecond in an id), ties
  // broken by id; the page after `after` is every row ordered below it.
  const before = page.after
    ? sql`(${operations.startedAt}, ${operations.id}) < (select o.started_at, o.id from ${operations} o where o.id = ${page.after})`
    : undefined;
  const rows = await db
    .select()
    .from(operations)
    .where(and(eq(operations.instanceId, instanceId), before))
    .orderBy(desc(operations.startedAt), desc(operations.id))
    .limit(page.limit + 1);
  return { items: rows.slice(0, page.limit), more: rows.length > page.limit };
}

/** The operation of `kind` an actor (e.g. a rollout) started on an instance, newest first, if any. */
export async function operationByActor(
  db: Database,
  instanceId: string,
  kind: OperationKind,
  actor: string,
  /** Only one started (by the catalogue's clock) at or after this: a sweep's own, not an earlier sweep's. */
  since?: Date,
): Promise<OperationRow | undefined> {
  const [row] = await db
    .select()
    .from(operations)
    .where(
      and(
        eq(operations.instanceId, instanceId),
        eq(operations.kind, kind),
        eq(operations.actor, actor),
        since ? gte(operations.startedAt, since) : undefined,
      ),
    )
    .orderBy(desc(operations.startedAt))
    .limit(1);
  return row;
}

/**
 * Moves an instance from `from` to `to` only if it is still `from` (compare-and-set). A retry of a
 * claim that already succeeded finds the instance at `to` with this operation still running, and
 * counts as claimed. Otherwise returns the status the instance has now.
 */
export async function claimInstance(
  db: Database,
  claim: { instanceId: string; operationId: string; from: InstanceStatus; to: InstanceStatus },
): Promise<{ claimed: true } | { claimed: false; status: InstanceStatus | undefined }> {
  const moved = await db.transaction(async (tx) => {
    const rows = await tx
      .update(instances)
      .set({ status: claim.to, updatedAt: new Date() })
      .where(and(eq(instances.id, claim.instanceId), eq(instances.status, claim.from)))
      .returning({ id: instances.id });
    if (rows.length > 0) await recordStatusChange(tx, claim.instanceId);
    return rows;
  });
  if (moved.length > 0) return { claimed: true };
  const [row] = await db.select({ status: instances.status }).from(instances).where(eq(instances.id, claim.instanceId));
  if (row?.status === claim.to && (await getOperation(db, claim.operationId))?.status === 'running') return { claimed: true };
  return { claimed: false, status: row?.status };
}

export interface NewOperation {
  id: string;
  instanceId: string;
  kind: OperationKind;
  workflowId: string;
  actor: string;
}

/** A new instance together with the provision operation that builds it, in one transaction. */
export async function insertInstanceWithOperation(
  db: Database,
  instance: Omit<typeof instances.$inferInsert, 'status' | 'createdAt' | 'updatedAt'>,
  operation: NewOperation,
  /**
   * Runs first in the inserting transaction; throwing refuses the instance, and locks it takes last
   * until the rows are committed. What it returns is written on the instance too (its placement).
   */
  admit?: (tx: Transaction) => Promise<Partial<Pick<typeof instances.$inferInsert, 'cluster'>> | void>,
): Promise<{ instance: InstanceRow; operation: OperationRow }> {
  return db.transaction(async (tx) => {
    const admitted = admit ? await admit(tx) : undefined;
    const [ins] = await tx
      .insert(instances)
      .values({ ...instance, ...(admitted ?? {}), status: 'provisioning' })
      .returning();
    const [op] = await tx
      .insert(operations)
      .values({ ...operation, status: 'running' })
      .returning();
    await recordStatusChange(tx, ins!.id);
    return { instance: ins!, operation: op! };
  });
}

/**
 * Inserts a running operation for an existing instance if `refusal` (given the instance as it is
 * under a row lock) has nothing against it and no other operation is running on the instance
 * (the unique index on running rows decides races).
 */
export async function insertOperationIfAllowed(
  db: Database,
  operation: NewOperation,
  refusal: (instance: InstanceRow) => string | undefined,
): Promise<{ operation: OperationRow; instance: InstanceRow } | { refusal: string } | { running: OperationRow | undefined }> {
  try {
    return await db.transaction(async (tx) => {
      const [instance] = await tx.select().from(instances).where(eq(instances.id, operation.instanceId)).for('update');
      if (!instance) return { refusal: `instance ${operation.instanceId} is not in the catalogue` };
      const refused = refusal(instance);
      if (refused) return { refusal: refused };
      const [op] = await tx
        .insert(operations)
        .values({ ...operation, status: 'running' })
        .returning();
      return { operation: op!, instance };
    });
  } catch (err) {
    if (!isUniqueViolation(err, 'operations_one_running_per_instance')) throw err;
    return { running: await runningOperation(db, operation.instanceId) };
  }
}

/**
 * Finishes a running operation whose run closed without recording its result, and gives its
 * instance `instanceStatus` (only if it shows `onlyFrom`, when given), with an audit event, in one
 * transaction. Returns the finished row, or undefined when the row was no longer running (someone
 * settled it first).
 */
export async function finishAbandonedOperation(
  db: Database,
  row: OperationRow,
  /** `instanceStatus` null: the kind leaves its instance's status alone (see OperationKindSpec.abandoned). */
  outcome: { status: Exclude<OperationResult['status'], 'succeeded'>; error: string; instanceStatus: InstanceStatus | null; onlyFrom?: InstanceStatus },
): Promise<OperationRow | undefined> {
  return db.transaction(async (tx) => {
    const steps = row.steps.map((step) =>
      step.status === 'running' ? { ...step, status: 'failed' as const, error: outcome.error } : step,
    );
    const [finished] = await tx
      .update(operations)
      .set({ status: outcome.status, error: outcome.error, steps, endedAt: sql`now()` })
      .where(and(eq(operations.id, row.id), eq(operations.status, 'running')))
      .returning();
    if (!finished) return undefined;
    const moved =
      outcome.instanceStatus === null
        ? []
        : await tx
            .update(instances)
            .set({ status: outcome.instanceStatus, updatedAt: new Date() })
            .where(and(eq(instances.id, row.instanceId), outcome.onlyFrom ? eq(instances.status, outcome.onlyFrom) : undefined))
            .returning({ status: instances.status });
    if (moved.length > 0) await recordStatusChange(tx, row.instanceId);
    await tx
      .insert(events)
      .values({
        key: `${row.id}:${row.kind}:reconciled`,
        instanceId: row.instanceId,
        operationId: row.id,
        actor: 'reconciler',
        action: row.kind,
        outcome: outcome.status,
        message: moved.length > 0 ? `${outcome.error}; instance set to ${outcome.instanceStatus}` : `${outcome.error}; instance left as it was`,
      })
      .onConflictDoNothing({ target: events.key });
    return finished;
  });
}

/**
 * Running operations a reconcile pass looks at, oldest first: those whose run started (Temporal
 * can say how it is), and those without a run id inserted before `startGraceBefore` (younger ones
 * are starts still in flight).
 */
export async function runningOperationsToReconcile(db: Database, startGraceBefore: Date, limit: number): Promise<OperationRow[]> {
  return db
    .select()
    .from(operations)
    .where(and(eq(operations.status, 'running'), or(isNotNull(operations.runId), lt(operations.startedAt, startGraceBefore))))
    .orderBy(asc(operations.startedAt))
    .limit(limit);
}

/**
 * Instances showing a transitional status with no running operation behind it, unchanged since
 * `unchangedSince` (older catalogues could lose the row of a run that did start).
 */
export async function instancesStuckWithoutOperation(db: Database, unchangedSince: Date, limit: number): Promise<InstanceRow[]> {
  return db
    .select()
    .from(instances)
    .where(
      and(
        inArray(instances.status, [...transitionalStatuses]),
        lt(instances.updatedAt, unchangedSince),
        sql`not exists (select 1 from ${operations} where ${operations.instanceId} = ${instances.id} and ${operations.status} = 'running')`,
      ),
    )
    .orderBy(asc(instances.updatedAt))
    .limit(limit);
}

export async function setRunId(db: Database, operationId: string, runId: string): Promise<OperationRow> {
  const [op] = await db.update(operations).set({ runId }).where(eq(operations.id, operationId)).returning();
  return op!;
}

/** Undoes an insert whose workflow never started (and the instance, when it was new). */
export async function discardOperation(db: Database, operationId: string, instanceId?: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.delete(operations).where(eq(operations.id, operationId));
    if (instanceId) {
      await tx.delete(instanceStatusChanges).where(eq(instanceStatusChanges.instanceId, instanceId));
      await tx.delete(instances).where(eq(instances.id, instanceId));
    }
  });
}

/** Writes an operation's outcome; returns whether the row exists. Repeating it with the same result changes nothing. */
/**
 * An operation's end as one transaction: the instance's new status (when given), the audit event
 * and the operation's result, written together instead of in three calls (see the closeOperation
 * activity). Nothing is written when the instance or the operation is not in the catalogue.
 */
export async function closeOperation(
  db: Database,
  close: {
    instance?: { id: string; patch: { status: InstanceStatus; version?: string; plan?: string } };
    event: NewEvent;
    operationId: string;
    result: OperationResult;
  },
): Promise<'closed' | 'no-instance' | 'no-operation'> {
  class Missing extends Error {
    constructor(readonly what: 'no-instance' | 'no-operation') {
      super(what);
    }
  }
  try {
    await db.transaction(async (tx) => {
      if (close.instance && !(await markInstanceIn(tx, close.instance.id, close.instance.patch))) throw new Missing('no-instance');
      await recordEvent(tx, close.event);
      if (!(await finishOperation(tx, close.operationId, close.result))) throw new Missing('no-operation');
    });
  } catch (err) {
    if (err instanceof Missing) return err.what;
    throw err;
  }
  return 'closed';
}

export async function finishOperation(db: Database | Transaction, operationId: string, result: OperationResult): Promise<boolean> {
  const rows = await db
    .update(operations)
    .set({
      status: result.status,
      steps: result.steps,
      error: result.error ?? null,
      // The first end time stands when an activity retry repeats the write.
      endedAt: sql`coalesce(${operations.endedAt}, now())`,
    })
    .where(eq(operations.id, operationId))
    .returning({ id: operations.id });
  return rows.length > 0;
}

export type OperationWithOwner = OperationRow & { ownerEmail: string };

/**
 * Operations with their instance's owner: the running ones (found through the partial index on
 * running rows), and any named in `ids`. What the fleet's event stream follows (lifecycle/streams.ts).
 */
export async function operationsWithOwner(db: Database, which: { running: boolean; ids?: string[] }): Promise<OperationWithOwner[]> {
  const named = which.ids?.length ? inArray(operations.id, which.ids) : undefined;
  const running = which.running ? eq(operations.status, 'running') : undefined;
  if (!named && !running) return [];
  const rows = await db
    .select({ operation: operations, ownerEmail: instances.ownerEmail })
    .from(operations)
    .innerJoin(instances, eq(instances.id, operations.instanceId))
    .where(or(running, named))
    .orderBy(asc(operations.startedAt));
  return rows.map((r) => ({ ...r.operation, ownerEmail: r.ownerEmail }));
}
