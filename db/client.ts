import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import * as schema from './schema';
import { tracedPostgres } from '../telemetry/postgres';

export type Database = PostgresJsDatabase<typeof schema> & { $client: postgres.Sql };

/** Opens a pool to the catalogue. The caller owns it: `await db.$client.end()` when done. */
export function connectCatalogue(url: string, options: { max?: number } = {}): Database {
  // A span per query while tracing is on; the plain client otherwise.
  const client = tracedPostgres(postgres(url, { max: options.max ?? 10, onnotice: () => {} }));
  return drizzle(client, { schema });
}

export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

/**
 * Holds a transaction-scoped advisory lock on `key` until the transaction ends: work under one key
 * is serialised across every API and worker process sharing the catalogue.
 */
export async function lockKey(tx: Transaction, key: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${key}))`);
}

/** Runs `work` while holding the advisory lock on `key` (see lockKey). */
export function serialised<T>(db: Database, key: string, work: (tx: Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await lockKey(tx, key);
    return work(tx);
  });
}
