// Every read and write of the catalogue, as plain functions over a Database. The API and the
// catalogue activities call these directly.
import { randomBytes } from 'node:crypto';
import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Health, HealthCheck, SweepTotals } from '../domain/health';
import type { InstanceStatus, OperationKind, Plan } from '../domain/instance';
import { statusWhileRunning } from '../domain/operation-kinds';
import type { OperationResult } from '../domain/operations';
import { slugFromName } from '../domain/validation';
import type { Database, Transaction } from './client';
import {
  apiKeys,
  events,
  healthSweeps,
  idempotencyRecords,
  instances,
  instanceStatusChanges,
  operations,
  plans,
  webhookDeliveries,
  webhookEvents,
  webhooks,
  type ApiRole,
  type WebhookEventType,
} from './schema';

export type InstanceRow = typeof instances.$inferSelect;
export type OperationRow = typeof operations.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type IdempotencyRow = typeof idempotencyRecords.$inferSelect;
export type WebhookRow = typeof webhooks.$inferSelect;
export type WebhookEventRow = typeof webhookEvents.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type SweepRow = typeof healthSweeps.$inferSelect;

// Crockford's base32 alphabet, lowercase: still in ASCII order, so ids compare as their times do.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * `prefix_` + 26 Crockford base32 characters: 48 bits of milliseconds then 80 random bits (the
 * ULID layout), so ids sort by creation time and serve as pagination cursors.
 */
export function newId(prefix: 'ins' | 'op' | 'key' | 'inv' | 'whk' | 'evt' | 'dlv' | 'swp'): string {
  let time = Date.now();
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = ALPHABET[time % 32] + head;
    time = Math.floor(time / 32);
  }
  let tail = '';
  for (const byte of randomBytes(16)) tail += ALPHABET[byte % 32];
  return `${prefix}_${head}${tail}`;
}

// ---- plans

export async function listPlans(db: Database): Promise<Plan[]> {
  return db.select().from(plans).orderBy(asc(plans.pricePerHourCents));
}

export async function getPlan(db: Database, name: string): Promise<Plan | undefined> {
  const [plan] = await db.select().from(plans).where(eq(plans.name, name));
  return plan;
}

// ---- instances

/** An instance row with the operation running on it, if the catalogue says one is. */
export interface InstanceWithOperation {
  instance: InstanceRow;
  running: OperationRow | undefined;
}

const instanceByIdOrSlug = (idOrSlug: string): SQL =>
  idOrSlug.startsWith('ins_') ? eq(instances.id, idOrSlug) : eq(instances.slug, idOrSlug);

export async function findInstance(db: Database, idOrSlug: string): Promise<InstanceWithOperation | undefined> {
  const [instance] = await db.select().from(instances).where(instanceByIdOrSlug(idOrSlug));
  if (!instance) return undefined;
  return { instance, running: await runningOperation(db, instance.id) };
}

export async function slugTaken(db: Database, slug: string): Promise<boolean> {
  const rows = await db.select({ id: instances.id }).from(instances).where(eq(instances.slug, slug));
  return rows.length > 0;
}

/** A free slug derived from a display name (domain rules, suffixed on collision). */
export async function slugFromNameFree(db: Database, name: string): Promise<string> {
  return slugFromName(name, (candidate) => slugTaken(db, candidate));
}

// The status shown for an instance is the one its running operation implies, else the stored
// one; listing filters on the same rule so a filter never disagrees with what it returns. Written
// as two index-backed sets (the status index; the partial index of running operations) rather than
// an expression per row, so a filtered page costs what its rows cost.
function shownStatusIs(status: InstanceStatus): SQL {
  const kinds = (Object.entries(statusWhileRunning) as [OperationKind, InstanceStatus][]).filter(([, s]) => s === status).map(([k]) => k);
  const runningIds = (onlyKinds?: OperationKind[]) =>
    sql`(select ${operations.instanceId} from ${operations} where ${operations.status} = 'running'${
      onlyKinds ? sql` and ${inArray(operations.kind, onlyKinds)}` : sql``
    })`;
  const settled = sql`(${instances.status} = ${status} and ${instances.id} not in ${runningIds()})`;
  return kinds.length ? sql`(${settled} or ${instances.id} in ${runningIds(kinds)})` : settled;
}

export async function listInstances(
  db: Database,
  query: { status?: InstanceStatus; health?: Health; limit: number; after?: string },
): Promise<{ items: InstanceWithOperation[]; more: boolean }> {
  const where = and(
    query.status ? shownStatusIs(query.status) : undefined,
    query.health ? eq(instances.health, query.health) : undefined,
    query.after ? gt(instances.id, query.after) : undefined,
  );
  const rows = await db
    .select()
    .from(instances)
    .where(where)
    .orderBy(asc(instances.id))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  const running = page.length
    ? await db
        .select()
        .from(operations)
        .where(and(inArray(operations.instanceId, page.map((r) => r.id)), eq(operations.status, 'running')))
        .orderBy(desc(operations.startedAt))
    : [];
  return {
    items: page.map((instance) => ({ instance, running: running.find((op) => op.instanceId === instance.id) })),
    more: rows.length > query.limit,
  };
}

/**
 * The slugs a rollout to `version` would upgrade, oldest instance first: `ready` (with no
 * operation running), matching every part of the selector given, not already at `version`.
 */
export async function rolloutTargets(
  db: Database,
  selector: { plans?: string[]; slugs?: string[]; versions?: string[] },
  version: string,
): Promise<string[]> {
  const rows = await db
    .select({ slug: instances.slug })
    .from(instances)
    .where(
      and(
        shownStatusIs('ready'),
        sql`${instances.version} <> ${version}`,
        selector.plans ? inArray(instances.plan, selector.plans) : undefined,
        selector.slugs ? inArray(instances.slug, selector.slugs) : undefined,
        selector.versions ? inArray(instances.version, selector.versions) : undefined,
      ),
    )
    .orderBy(asc(instances.id));
  return rows.map((r) => r.slug);
}

/** The operation of `kind` an actor (e.g. a rollout) started on an instance, newest first, if any. */
export async function operationByActor(db: Database, instanceId: string, kind: OperationKind, actor: string): Promise<OperationRow | undefined> {
  const [row] = await db
    .select()
    .from(operations)
    .where(and(eq(operations.instanceId, instanceId), eq(operations.kind, kind), eq(operations.actor, actor)))
    .orderBy(desc(operations.startedAt))
    .limit(1);
  return row;
}

/** How many instances show each status (the status the API shows: a running operation's, else the stored one). */
export async function countInstancesByStatus(db: Database): Promise<{ status: InstanceStatus; count: number }[]> {
  const running = db
    .select({ instanceId: operations.instanceId, kind: operations.kind })
    .from(operations)
    .where(eq(operations.status, 'running'))
    .as('running');
  const rows = await db
    .select({ stored: instances.status, kind: running.kind, count: sql<number>`count(*)::int` })
    .from(instances)
    .leftJoin(running, eq(running.instanceId, instances.id))
    .groupBy(instances.status, running.kind);
  const counts = new Map<InstanceStatus, number>();
  for (const row of rows) {
    const status = row.kind ? statusWhileRunning[row.kind] : row.stored;
    counts.set(status, (counts.get(status) ?? 0) + row.count);
  }
  return [...counts].map(([status, count]) => ({ status, count }));
}

/**
 * Appends the instance's status and plan, as the transaction now has them, to its status history
 * — unless they are what the history already ends with (a retried write). Called in the same
 * transaction as every write of an instance's status or plan, after it: the history is what
 * metering bills from, so it never disagrees with the status.
 */
async function recordStatusChange(tx: Transaction, instanceId: string): Promise<void> {
  const h = instanceStatusChanges;
  await tx.execute(sql`
    insert into ${h} (instance_id, status, plan)
    select i.id, i.status, i.plan from ${instances} i
    where i.id = ${instanceId}
      and not exists (
        select 1 from (select status, plan from ${h} where instance_id = i.id order by at desc, id desc limit 1) last
        where last.status = i.status and last.plan = i.plan)`);
}

/** Sets an instance's status (and version, and plan); returns whether the instance exists. */
export async function markInstance(
  db: Database,
  instanceId: string,
  patch: { status: InstanceStatus; version?: string; plan?: string },
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .update(instances)
      .set({
        status: patch.status,
        ...(patch.version ? { version: patch.version } : {}),
        ...(patch.plan ? { plan: patch.plan } : {}),
        updatedAt: new Date(),
      })
      .where(eq(instances.id, instanceId))
      .returning({ id: instances.id });
    if (rows.length > 0) await recordStatusChange(tx, instanceId);
    return rows.length > 0;
  });
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

// ---- operations

export async function runningOperation(db: Database, instanceId: string): Promise<OperationRow | undefined> {
  const [op] = await db
    .select()
    .from(operations)
    .where(and(eq(operations.instanceId, instanceId), eq(operations.status, 'running')))
    .orderBy(desc(operations.startedAt))
    .limit(1);
  return op;
}

export async function getOperation(db: Database, id: string): Promise<OperationRow | undefined> {
  const [op] = await db.select().from(operations).where(eq(operations.id, id));
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
  /** Runs first in the inserting transaction; throwing refuses the instance, and locks it takes last until the rows are committed. */
  admit?: (tx: Transaction) => Promise<void>,
): Promise<{ instance: InstanceRow; operation: OperationRow }> {
  return db.transaction(async (tx) => {
    if (admit) await admit(tx);
    const [ins] = await tx
      .insert(instances)
      .values({ ...instance, status: 'provisioning' })
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
 * The plan of every instance that holds or is about to hold a namespace quota (not deleted, not
 * failed — a failed instance that kept its namespace shows in the cluster's own quotas).
 */
export async function livePlans(db: Database | Transaction): Promise<{ slug: string; cpu: string; memory: string }[]> {
  return db
    .select({ slug: instances.slug, cpu: plans.cpu, memory: plans.memory })
    .from(instances)
    .innerJoin(plans, eq(plans.name, instances.plan))
    .where(and(sql`${instances.status} <> 'deleted'`, sql`${instances.status} <> 'failed'`));
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

function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: string; constraint_name?: string; cause?: unknown };
  if (e?.code === '23505' && e.constraint_name === constraint) return true;
  return e?.cause !== undefined && isUniqueViolation(e.cause, constraint);
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
  outcome: { status: Exclude<OperationResult['status'], 'succeeded'>; error: string; instanceStatus: InstanceStatus; onlyFrom?: InstanceStatus },
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
    const moved = await tx
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
  const transitional = [...new Set(Object.values(statusWhileRunning))].filter((status) => status !== 'failed');
  return db
    .select()
    .from(instances)
    .where(
      and(
        inArray(instances.status, transitional),
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
export async function finishOperation(db: Database, operationId: string, result: OperationResult): Promise<boolean> {
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

// ---- events

export interface NewEvent {
  instanceId?: string;
  operationId?: string;
  actor: string;
  action: string;
  outcome: string;
  message?: string;
  /** Makes the write idempotent: a second event with the same key is dropped. */
  key?: string;
}

export async function recordEvent(db: Database, event: NewEvent): Promise<void> {
  await db
    .insert(events)
    .values({
      key: event.key ?? null,
      instanceId: event.instanceId ?? null,
      operationId: event.operationId ?? null,
      actor: event.actor,
      action: event.action,
      outcome: event.outcome,
      message: event.message ?? null,
    })
    .onConflictDoNothing({ target: events.key });
}

/** A page of an instance's events, oldest first; `after` is the last id of the previous page. */
export async function listEvents(
  db: Database,
  instanceId: string,
  page: { limit: number; after?: number },
): Promise<{ items: EventRow[]; more: boolean }> {
  const rows = await db
    .select()
    .from(events)
    .where(and(eq(events.instanceId, instanceId), page.after !== undefined ? gt(events.id, page.after) : undefined))
    .orderBy(asc(events.id))
    .limit(page.limit + 1);
  return { items: rows.slice(0, page.limit), more: rows.length > page.limit };
}

// ---- API keys

export async function insertApiKey(
  db: Database,
  key: { id: string; name: string; role: ApiRole; hash: string; prefix: string },
): Promise<ApiKeyRow> {
  const [row] = await db.insert(apiKeys).values(key).returning();
  return row!;
}

export async function listApiKeys(db: Database): Promise<ApiKeyRow[]> {
  return db.select().from(apiKeys).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
}

export async function findLiveApiKeyByHash(db: Database, hash: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.hash, hash), isNull(apiKeys.revokedAt)));
  return row;
}

/** Revokes a key; revoking a revoked key keeps its first revocation time. */
export async function revokeApiKey(db: Database, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(eq(apiKeys.id, id))
    .returning();
  return row;
}

// ---- idempotency

/** How long idempotency claims and records live (SHIPYARD_IDEMPOTENCY_LEASE_SECONDS, SHIPYARD_IDEMPOTENCY_TTL_HOURS). */
export interface IdempotencyTimes {
  /** A claim still without a response after this long is presumed abandoned (its request died) and may be taken over. */
  leaseSeconds: number;
  /** A record older than this is forgotten: its key starts afresh. */
  ttlHours: number;
}

/**
 * Either this request now owns the key (and must call completeIdempotency or releaseIdempotency
 * with `token`), or the record another request left.
 */
export type IdempotencyClaim = { owned: true; token: string } | { owned: false; record: IdempotencyRow };

/** Expired records deleted per claim: enough to keep up with any request rate, never a long delete. */
const EXPIRED_DELETED_PER_CLAIM = 100;

/**
 * Claims `key` for a request, atomically: a new key, an expired record, and a claim of the same
 * request whose lease ran out are all taken in one upsert, so of many concurrent requests exactly
 * one owns the key. The claim's token is its created_at at full precision: a request whose claim
 * was taken over no longer matches it, so its late completion or release touches nothing.
 */
export async function claimIdempotency(
  db: Database,
  apiKeyId: string,
  key: string,
  requestHash: string,
  times: IdempotencyTimes,
): Promise<IdempotencyClaim> {
  const r = idempotencyRecords;
  const expired = sql`${r.createdAt} < now() - make_interval(hours => ${times.ttlHours})`;
  // Clean-up rides along with claims instead of a scheduler; SKIP LOCKED so concurrent claims
  // never queue behind each other's deletes.
  await db.delete(r).where(
    sql`ctid in (select ctid from ${r} where ${expired} limit ${EXPIRED_DELETED_PER_CLAIM} for update skip locked)`,
  );
  const [claimed] = await db
    .insert(r)
    .values({ apiKeyId, key, requestHash })
    .onConflictDoUpdate({
      target: [r.apiKeyId, r.key],
      set: { requestHash, responseStatus: null, responseBody: null, responseHeaders: null, createdAt: sql`now()` },
      setWhere: sql`${expired} or (${r.responseStatus} is null and ${r.requestHash} = ${requestHash}
        and ${r.createdAt} < now() - make_interval(secs => ${times.leaseSeconds}))`,
    })
    .returning({ token: sql<string>`${r.createdAt}::text` });
  if (claimed) return { owned: true, token: claimed.token };
  const [existing] = await db
    .select()
    .from(r)
    .where(and(eq(r.apiKeyId, apiKeyId), eq(r.key, key)));
  // Released (or expired and deleted) between our upsert and select: claim again.
  if (!existing) return claimIdempotency(db, apiKeyId, key, requestHash, times);
  return { owned: false, record: existing };
}

/** The claim the token names, still without a response. */
const stillClaimed = (apiKeyId: string, key: string, token: string) =>
  and(
    eq(idempotencyRecords.apiKeyId, apiKeyId),
    eq(idempotencyRecords.key, key),
    sql`${idempotencyRecords.createdAt}::text = ${token}`,
    isNull(idempotencyRecords.responseStatus),
  );

/** Records the response under the claim; false when the claim was taken over meanwhile. */
export async function completeIdempotency(
  db: Database,
  apiKeyId: string,
  key: string,
  token: string,
  response: { status: number; body: unknown; headers: Record<string, string> },
): Promise<boolean> {
  const updated = await db
    .update(idempotencyRecords)
    .set({ responseStatus: response.status, responseBody: response.body, responseHeaders: response.headers })
    .where(stillClaimed(apiKeyId, key, token))
    .returning({ key: idempotencyRecords.key });
  return updated.length > 0;
}

/** Gives the key up after a failed request, unless another request has taken the claim over. */
export async function releaseIdempotency(db: Database, apiKeyId: string, key: string, token: string): Promise<void> {
  await db.delete(idempotencyRecords).where(stillClaimed(apiKeyId, key, token));
}

// ---- webhooks

export async function insertWebhook(db: Database, webhook: typeof webhooks.$inferInsert): Promise<WebhookRow> {
  const [row] = await db.insert(webhooks).values(webhook).returning();
  return row!;
}

export async function listWebhooks(db: Database): Promise<WebhookRow[]> {
  return db.select().from(webhooks).orderBy(asc(webhooks.id));
}

export async function getWebhook(db: Database, id: string): Promise<WebhookRow | undefined> {
  const [row] = await db.select().from(webhooks).where(eq(webhooks.id, id));
  return row;
}

/** Deletes a webhook and its delivery log; deliveries still retrying stop at their next attempt. */
export async function deleteWebhook(db: Database, id: string): Promise<WebhookRow | undefined> {
  const [row] = await db.delete(webhooks).where(eq(webhooks.id, id)).returning();
  return row;
}

/** The webhooks subscribed to `type` (by name or with `*`). */
export async function webhooksFor(db: Database, type: WebhookEventType): Promise<WebhookRow[]> {
  return db
    .select()
    .from(webhooks)
    .where(sql`${webhooks.events} && array[${type}, '*']::text[]`)
    .orderBy(asc(webhooks.id));
}

/**
 * The event with this key, made now if it is new. Retries of the writer find the first one, so
 * an event keeps its id (and body) however often the code that raises it runs.
 */
export async function ensureWebhookEvent(
  db: Database,
  event: { key: string; type: WebhookEventType; payload: (id: string) => unknown },
): Promise<WebhookEventRow> {
  const id = newId('evt');
  await db
    .insert(webhookEvents)
    .values({ id, key: event.key, type: event.type, payload: event.payload(id) })
    .onConflictDoNothing({ target: webhookEvents.key });
  const [row] = await db.select().from(webhookEvents).where(eq(webhookEvents.key, event.key));
  return row!;
}

/** The delivery of an event to a webhook, made now if it is new. */
export async function ensureDelivery(db: Database, eventId: string, webhookId: string): Promise<DeliveryRow> {
  await db
    .insert(webhookDeliveries)
    .values({ id: newId('dlv'), eventId, webhookId })
    .onConflictDoNothing({ target: [webhookDeliveries.eventId, webhookDeliveries.webhookId] });
  const [row] = await db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.eventId, eventId), eq(webhookDeliveries.webhookId, webhookId)));
  return row!;
}

/** A delivery with what sending it needs; undefined once its webhook is deleted. */
export async function deliveryToSend(
  db: Database,
  id: string,
): Promise<{ delivery: DeliveryRow; webhook: WebhookRow; event: WebhookEventRow } | undefined> {
  const [row] = await db
    .select({ delivery: webhookDeliveries, webhook: webhooks, event: webhookEvents })
    .from(webhookDeliveries)
    .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .where(eq(webhookDeliveries.id, id));
  return row;
}

/** Counts an attempt as it starts, so the log shows attempts in flight and those a crash cut short. */
export async function countDeliveryAttempt(db: Database, id: string): Promise<number> {
  const [row] = await db
    .update(webhookDeliveries)
    .set({ attempts: sql`${webhookDeliveries.attempts} + 1` })
    .where(eq(webhookDeliveries.id, id))
    .returning({ attempts: webhookDeliveries.attempts });
  return row?.attempts ?? 0;
}

export async function recordDeliveryAttempt(
  db: Database,
  id: string,
  attempt: { statusCode?: number; error?: string; delivered: boolean },
): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({
      lastStatusCode: attempt.statusCode ?? null,
      lastError: attempt.error ?? null,
      ...(attempt.delivered ? { status: 'delivered' as const, deliveredAt: sql`coalesce(${webhookDeliveries.deliveredAt}, now())` } : {}),
    })
    .where(eq(webhookDeliveries.id, id));
}

/** The retry window closed without a receiver that answered 2xx. */
export async function giveUpDelivery(db: Database, id: string): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({ status: 'failed' })
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, 'pending')));
}

/** A page of a webhook's deliveries, newest first; `after` is the last id of the previous page. */
export async function listDeliveries(
  db: Database,
  webhookId: string,
  page: { limit: number; after?: string },
): Promise<{ items: (DeliveryRow & { type: WebhookEventType })[]; more: boolean }> {
  const rows = await db
    .select({ delivery: webhookDeliveries, type: webhookEvents.type })
    .from(webhookDeliveries)
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .where(and(eq(webhookDeliveries.webhookId, webhookId), page.after ? lt(webhookDeliveries.id, page.after) : undefined))
    .orderBy(desc(webhookDeliveries.id))
    .limit(page.limit + 1);
  return { items: rows.slice(0, page.limit).map((r) => ({ ...r.delivery, type: r.type })), more: rows.length > page.limit };
}

// ---- health

/** Instances a sweep checks: `ready` or `suspended` with no operation running, in id order after `after`. */
export async function instancesToCheck(db: Database, after: string | undefined, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: instances.id })
    .from(instances)
    .where(
      and(
        inArray(instances.status, ['ready', 'suspended']),
        sql`${instances.id} not in (select ${operations.instanceId} from ${operations} where ${operations.status} = 'running')`,
        after ? gt(instances.id, after) : undefined,
      ),
    )
    .orderBy(asc(instances.id))
    .limit(limit);
  return rows.map((r) => r.id);
}

/** Stores a check's verdict; returns the health the instance had before it. */
export async function recordHealth(db: Database, instanceId: string, health: Health, checks: HealthCheck[]): Promise<Health | undefined> {
  return db.transaction(async (tx) => {
    const [before] = await tx.select({ health: instances.health }).from(instances).where(eq(instances.id, instanceId)).for('update');
    if (!before) return undefined;
    await tx.update(instances).set({ health, healthChecks: checks, healthCheckedAt: new Date() }).where(eq(instances.id, instanceId));
    return before.health;
  });
}

/** Heals recorded for an instance since `since` (the heal budget's window). */
export async function healsSince(db: Database, instanceId: string, since: Date): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(events)
    .where(and(eq(events.instanceId, instanceId), eq(events.actor, 'health-sweep'), eq(events.action, 'heal'), gt(events.at, since)));
  return row?.n ?? 0;
}

/** The sweep run by `workflowId`, recorded now if it is new. */
export async function openSweep(db: Database, workflowId: string, id = newId('swp')): Promise<SweepRow> {
  await db.insert(healthSweeps).values({ id, workflowId }).onConflictDoNothing({ target: healthSweeps.workflowId });
  const [row] = await db.select().from(healthSweeps).where(eq(healthSweeps.workflowId, workflowId));
  return row!;
}

export async function closeSweep(db: Database, id: string, status: 'succeeded' | 'failed', totals: SweepTotals): Promise<void> {
  await db
    .update(healthSweeps)
    .set({ status, ...totals, endedAt: sql`coalesce(${healthSweeps.endedAt}, now())` })
    .where(eq(healthSweeps.id, id));
}

/** Totals so far, while the sweep runs. */
export async function updateSweepTotals(db: Database, id: string, totals: SweepTotals): Promise<void> {
  await db.update(healthSweeps).set(totals).where(eq(healthSweeps.id, id));
}

export async function recordSweepOrphans(db: Database, id: string, orphans: NonNullable<SweepRow['orphans']>): Promise<void> {
  await db.update(healthSweeps).set({ orphans }).where(eq(healthSweeps.id, id));
}

/** The newest sweep that looked for orphans. */
export async function lastOrphanSweep(db: Database): Promise<SweepRow | undefined> {
  const [row] = await db.select().from(healthSweeps).where(isNotNull(healthSweeps.orphans)).orderBy(desc(healthSweeps.id)).limit(1);
  return row;
}

export async function getSweep(db: Database, id: string): Promise<SweepRow | undefined> {
  const [row] = await db.select().from(healthSweeps).where(eq(healthSweeps.id, id));
  return row;
}

/** A page of sweeps, newest first; `after` is the last id of the previous page. */
export async function listSweeps(db: Database, page: { limit: number; after?: string }): Promise<{ items: SweepRow[]; more: boolean }> {
  const rows = await db
    .select()
    .from(healthSweeps)
    .where(page.after ? lt(healthSweeps.id, page.after) : undefined)
    .orderBy(desc(healthSweeps.id))
    .limit(page.limit + 1);
  return { items: rows.slice(0, page.limit), more: rows.length > page.limit };
}
