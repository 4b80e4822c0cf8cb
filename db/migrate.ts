// Applies db/migrations to the catalogue. An explicit step (`shipyard migrate`, `npm run migrate`),
// also called by tests; any failure propagates and the command exits non-zero.
// The migrations are found next to this code: db/migrations from source, dist/migrations once built.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { connectCatalogue } from './client';

const migrationsFolder = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

// Any fixed number works; it only has to be the same for every process migrating this database.
const MIGRATION_LOCK = 7_140_203_311;

/** Brings the catalogue up to date. Safe to call from several processes at once: they take turns. */
export async function migrateCatalogue(url: string): Promise<void> {
  // One connection, so the advisory lock and the migration share a session.
  const db = connectCatalogue(url, { max: 1 });
  try {
    await db.$client`select pg_advisory_lock(${MIGRATION_LOCK})`;
    try {
      await migrate(db, { migrationsFolder });
    } finally {
      await db.$client`select pg_advisory_unlock(${MIGRATION_LOCK})`;
    }
  } finally {
    await db.$client.end();
  }
}
