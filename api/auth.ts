// Bearer API keys. Only a key's sha256 is stored; the configured SHIPYARD_ADMIN_KEY is an admin
// key named `bootstrap-admin`, so the first real keys can be made.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Database } from '../db/client';
import { findLiveApiKeyByHash } from '../db/api-keys';
import type { ApiRole } from '../domain/api-keys';
import { Problem } from './problems';

export interface Caller {
  /** api_keys.id, or `bootstrap-admin` for the configured key. */
  keyId: string;
  name: string;
  role: ApiRole;
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
    return { keyId: BOOTSTRAP_ADMIN, name: BOOTSTRAP_ADMIN, role: 'admin' };
  }
  const row = await findLiveApiKeyByHash(db, hash);
  if (!row) throw new Problem(401, 'unknown or revoked API key');
  return { keyId: row.id, name: row.name, role: row.role };
}

export function authorize(caller: Caller, needed: ApiRole): void {
  if (rank[caller.role] < rank[needed]) {
    throw new Problem(403, `this needs the ${needed} role; key "${caller.name}" has ${caller.role}`);
  }
}
