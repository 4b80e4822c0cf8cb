// Bearer API keys. Only a key's sha256 is stored; the configured SHIPYARD_ADMIN_KEY is an admin
// key named `bootstrap-admin`, so the first real keys can be made.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Database } from '../db/client';
import { findLiveApiKeyByHash } from '../db/api-keys';
import type { ApiRole, Scope } from '../domain/api-keys';
import { Problem } from './problems';

export interface Caller {
  /** api_keys.id, or `bootstrap-admin` for the configured key. */
  keyId: string;
  name: string;
  role: ApiRole;
  /** `{ owner }` for a key bound to an owner: handlers pass it down, and the catalogue's queries filter by it. */
  scope: Scope;
}

export const BOOTSTRAP_ADMIN = 'bootstrap-admin';

const rank: Record<ApiRole, number> = { viewer: 1, operator: 2, admin: 3 };

export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** A new secret key; `prefix` is what listings show to tell keys apart. */
export function generateKey(): { key: string; prefix: string; hash: string } {
  const key = `sy_${randomBytes(32).toString('base64url')}`;
  return { key, prefix: key.slice(0, 10), hash: hashKey(key) };
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new Problem(401, 'the Authorization header must be "Bearer <api key>"');
  return match[1];
}

export async function authenticate(request: FastifyRequest, db: Database, adminKey: string | undefined): Promise<Caller> {
  const key = bearer(request);
  if (!key) throw new Problem(401, 'send an API key as "Authorization: Bearer <api key>"');
  const hash = hashKey(key);
  if (adminKey && timingSafeEqual(Buffer.from(hash, 'hex'), Buffer.from(hashKey(adminKey), 'hex'))) {
    return { keyId: BOOTSTRAP_ADMIN, name: BOOTSTRAP_ADMIN, role: 'admin', scope: {} };
  }
  const row = await findLiveApiKeyByHash(db, hash);
  if (!row) throw new Problem(401, 'unknown or revoked API key');
  return { keyId: row.id, name: row.name, role: row.role, scope: row.owner === null ? {} : { owner: row.owner } };
}

export function authorize(caller: Caller, needed: ApiRole): void {
  if (rank[caller.role] < rank[needed]) {
    throw new Problem(403, `this needs the ${needed} role; key "${caller.name}" has ${caller.role}`);
  }
}

/** The problem type's slug of a request a key bound to an owner may not make. */
export const OWNER_SCOPED_PROBLEM = 'forbidden-owner' as const;

/**
 * Refuses a key bound to an owner on a route that covers the whole fleet (rollouts, sweeps,
 * webhooks, API keys, invoice runs, the codec): only routes that pass the caller's scope down
 * (`ownerScoped`) take such a key.
 */
export function requireFleetKey(caller: Caller): void {
  if (caller.scope.owner !== undefined) {
    throw new Problem(403, `key "${caller.name}" is bound to owner ${caller.scope.owner}; this covers the whole fleet`, {
      type: OWNER_SCOPED_PROBLEM,
    });
  }
}
