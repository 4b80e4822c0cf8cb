// `Idempotency-Key` on mutating POSTs: the same key with the same request replays the first
// response (and starts nothing); the same key with another request is a 409. Keys are scoped to
// the API key that sent them. Only successful responses are kept, so a failed attempt can be
// retried with the same key. A claim whose request died before answering is taken over after
// its lease (SHIPYARD_IDEMPOTENCY_LEASE_SECONDS); records are forgotten after
// SHIPYARD_IDEMPOTENCY_TTL_HOURS.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { claimIdempotency, completeIdempotency, releaseIdempotency } from '../db/idempotency';
import type { Deps } from '../lifecycle/deps';
import { Type } from '@fastify/type-provider-typebox';
import { Problem } from './problems';

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, description: 'retry-safe key: the same key and body get the same response' }),
  ),
});

// Key order in a JSON body carries no meaning, so it must not change the hash.
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}

/** What makes two requests the same: method, path (not the query) and the body's content. */
export function requestHash(method: string, url: string, body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([method, url.split('?')[0], canonical(body ?? null)]))
    .digest('hex');
}

export interface Outcome {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export async function idempotent(
  { db, config }: Pick<Deps, 'db' | 'config'>,
  request: FastifyRequest,
  reply: FastifyReply,
  handle: () => Promise<Outcome>,
): Promise<FastifyReply> {
  const key = request.headers['idempotency-key'];
  const send = (outcome: Outcome) => reply.code(outcome.status).headers(outcome.headers ?? {}).send(outcome.body);
  if (typeof key !== 'string') return send(await handle());

  const callerId = request.caller!.keyId;
  const hash = requestHash(request.method, request.url, request.body);
  const claim = await claimIdempotency(db, callerId, key, hash, {
    leaseSeconds: config.idempotencyLeaseSeconds,
    ttlHours: config.idempotencyTtlHours,
  });
  if (!claim.owned) {
    const previous = claim.record;
    if (previous.requestHash !== hash) {
      throw new Problem(409, 'this Idempotency-Key was already used for a different request', { type: 'idempotency-key-reused' });
    }
    if (previous.responseStatus === null) {
      throw new Problem(409, 'a request with this Idempotency-Key is still being handled; retry shortly', { type: 'idempotency-key-in-flight' });
    }
    reply.header('idempotent-replayed', 'true');
    return send({ status: previous.responseStatus, body: previous.responseBody, headers: previous.responseHeaders ?? {} });
  }
  let outcome: Outcome;
  try {
    outcome = await handle();
  } catch (err) {
    await releaseIdempotency(db, callerId, key, claim.token);
    throw err;
  }
  const recorded = await completeIdempotency(db, callerId, key, claim.token, {
    status: outcome.status,
    body: outcome.body,
    headers: outcome.headers ?? {},
  });
  // This request outlived its lease and another took the key over; this caller still gets its
  // own answer, and the record keeps the newer request's.
  if (!recorded) request.log.warn({ idempotencyKey: key }, 'idempotency claim was taken over before this request completed');
  return send(outcome);
}
