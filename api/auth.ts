// Bearer API keys. Only a key's sha256 is stored; the configured SHIPYARD_ADMIN_KEY is an admin
// key named `bootstrap-admin`, so the first real keys can be made.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Database } from '../db/client';
import { type ApiKeyRow, findLiveApiKeyByHash, listenForRevokedKeys } from '../db/api-keys';
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

/** How long a live key found in the catalogue is believed without looking again. */
export const LIVE_KEY_TTL_MS = 30_000;
/** Bound on the keys kept (only live keys found are kept, so the set is the keys in use). */
const LIVE_KEYS_KEPT = 10_000;

interface LiveKeys {
  /** False until the revocation listener is confirmed: nothing is believed from memory before. */
  listening: boolean;
  byHash: Map<string, { row: ApiKeyRow; until: number }>;
  /** Apps built on this catalogue connection that keep keys (tests build several). */
  users: number;
  listener?: Promise<{ unlisten: () => Promise<void> } | undefined>;
  /** When listening was last tried and failed: tried again from a request at most every LISTEN_RETRY_MS. */
  failedAt?: number;
}
const liveKeysOf = new WeakMap<Database, LiveKeys>();
const LISTEN_RETRY_MS = 10_000;

/** Starts listening for revocations; a catalogue that cannot be reached leaves keys unkept (every request looks). */
function listen(db: Database, keys: LiveKeys): void {
  keys.failedAt = undefined;
  keys.listener = listenForRevokedKeys(
    db,
    (hash) => keys.byHash.delete(hash),
    () => {
      keys.byHash.clear();
      keys.listening = true;
    },
  ).catch(() => {
    keys.failedAt = Date.now();
    return undefined;
  });
}

/**
 * Keeps the live keys this process has found in memory for LIVE_KEY_TTL_MS, so a request costs no
 * catalogue round trip for its key: under load that lookup was one of a read's two queries. A
 * revocation still stops a key at once: revokeApiKey announces it (Postgres NOTIFY) and every
 * process holding it drops it as the announcement arrives, this one before its revoke answers.
 * Until the listening connection is up nothing is believed from memory; an announcement made while
 * it was down is made good when it is back (everything kept is forgotten then) or when the entry's
 * LIVE_KEY_TTL_MS run out, whichever is first. Returns the stop (call it when the app closes).
 */
export function keepLiveKeys(db: Database): () => Promise<void> {
  let keys = liveKeysOf.get(db);
  if (!keys) {
    keys = { listening: false, byHash: new Map(), users: 0 };
    liveKeysOf.set(db, keys);
    listen(db, keys);
  }
  keys.users += 1;
  const kept = keys;
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    kept.users -= 1;
    if (kept.users > 0) return;
    kept.listening = false;
    kept.byHash.clear();
    liveKeysOf.delete(db);
    await (await kept.listener)?.unlisten();
  };
}

/** Drops a key this process revoked, before the revoke answers (its announcement arrives a little later). */
export function forgetKey(db: Database, hash: string): void {
  liveKeysOf.get(db)?.byHash.delete(hash);
}

async function findLiveKey(db: Database, hash: string): Promise<ApiKeyRow | undefined> {
  const keys = liveKeysOf.get(db);
  const now = Date.now();
  if (keys?.failedAt !== undefined && now - keys.failedAt >= LISTEN_RETRY_MS) listen(db, keys);
  const kept = keys?.listening ? keys.byHash.get(hash) : undefined;
  if (kept && kept.until > now) return kept.row;
  const row = await findLiveApiKeyByHash(db, hash);
  if (row && keys?.listening) {
    if (keys.byHash.size >= LIVE_KEYS_KEPT) keys.byHash.clear();
    keys.byHash.set(hash, { row, until: now + LIVE_KEY_TTL_MS });
  } else if (!row) keys?.byHash.delete(hash);
  return row;
}

const adminHashes = new Map<string, Buffer>();
/** The configured admin key's hash, computed once per key rather than on every request. */
function adminHash(adminKey: string): Buffer {
  let hash = adminHashes.get(adminKey);
  if (!hash) {
    hash = Buffer.from(hashKey(adminKey), 'hex');
    adminHashes.set(adminKey, hash);
  }
  return hash;
}

export async function authenticate(request: FastifyRequest, db: Database, adminKey: string | undefined): Promise<Caller> {
  const key = bearer(request);
  if (!key) throw new Problem(401, 'send an API key as "Authorization: Bearer <api key>"');
  const hash = hashKey(key);
  if (adminKey && timingSafeEqual(Buffer.from(hash, 'hex'), adminHash(adminKey))) {
    return { keyId: BOOTSTRAP_ADMIN, name: BOOTSTRAP_ADMIN, role: 'admin', scope: {} };
  }
  const row = await findLiveKey(db, hash);
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
