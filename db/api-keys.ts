// API keys. Only a key's hash is stored: the key itself is shown once, at creation.
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { ApiRole } from '../domain/api-keys';
import type { Database } from './client';
import { apiKeys } from './schema';

export type ApiKeyRow = typeof apiKeys.$inferSelect;

export async function insertApiKey(
  db: Database,
  /** `owner`: the ownerEmail the key is bound to (see Scope); absent = the whole fleet. */
  key: { id: string; name: string; role: ApiRole; hash: string; prefix: string; owner?: string },
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

/**
 * The channel on which a revocation is announced (payload: the key's hash), so API processes that
 * keep live keys in memory drop it at once (api/auth.ts).
 */
export const API_KEY_REVOKED_CHANNEL = 'shipyard_api_key_revoked';

/** Revokes a key; revoking a revoked key keeps its first revocation time. Announced on API_KEY_REVOKED_CHANNEL at commit. */
export async function revokeApiKey(db: Database, id: string): Promise<ApiKeyRow | undefined> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(apiKeys)
      .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
      .where(eq(apiKeys.id, id))
      .returning();
    if (row) await tx.execute(sql`select pg_notify(${API_KEY_REVOKED_CHANNEL}, ${row.hash})`);
    return row;
  });
}

/**
 * Calls `onRevoked(hash)` for every key revoked from now on, by any process. `onListening` runs
 * each time the listening connection is (re)established: revocations announced while it was down
 * were missed, so whatever was kept from before must be forgotten then.
 */
export async function listenForRevokedKeys(
  db: Database,
  onRevoked: (hash: string) => void,
  onListening: () => void,
): Promise<{ unlisten: () => Promise<void> }> {
  return db.$client.listen(API_KEY_REVOKED_CHANNEL, onRevoked, onListening);
}
