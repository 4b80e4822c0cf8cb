// Idempotency-Key records: the claim a request holds on its key, then the response its retries get.
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Database } from './client';
import { idempotencyRecords } from './schema';

export type IdempotencyRow = typeof idempotencyRecords.$inferSelect;

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
