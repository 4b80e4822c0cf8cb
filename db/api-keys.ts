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

/** Revokes a key; revoking a revoked key keeps its first revocation time. */
export async function revokeApiKey(db: Database, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(eq(apiKeys.id, id))
    .returning();
  return row;
}
