// Metering's I/O: closing hours into the usage ledger (catalogue) and sampling tenant database
// sizes (tenant Postgres). Both are safe to repeat: the ledger ignores rows it has, and an hour
// keeps its largest sample.
import * as metering from '../db/metering';
import type { ActivityDeps } from './deps';

export function createMeteringActivities({ db, tenantDb }: Pick<ActivityDeps, 'db' | 'tenantDb'>) {
  return {
    /** Ended hours `cursor` has not metered, oldest first (ISO strings: they travel through workflow history). */
    async hoursToMeter(cursor: string, limit: number): Promise<{ hours: string[]; more: boolean }> {
      const { hours, more } = await metering.hoursToMeter(db, cursor, limit);
      return { hours: hours.map((h) => h.toISOString()), more };
    },

    /** Writes one hour's ledger rows and moves the cursor past it; returns how many rows were new. */
    async meterHour(cursor: string, hour: string): Promise<number> {
      return metering.meterHour(db, cursor, new Date(hour));
    },

    /** Samples pg_database_size of every billed instance's database into the current hour. */
    async sampleStorage(): Promise<number> {
      const targets = await metering.instancesToSample(db);
      if (targets.length === 0) return 0;
      const sizes = await tenantDb<{ datname: string; bytes: string }[]>`
        select datname, pg_database_size(datname)::text as bytes from pg_database where datname in ${tenantDb(targets.map((t) => t.database))}`;
      const byName = new Map(sizes.map((s) => [s.datname, Number(s.bytes)]));
      const samples = targets.flatMap((t) => (byName.has(t.database) ? [{ instanceId: t.id, plan: t.plan, bytes: byName.get(t.database)! }] : []));
      await metering.recordStorageSamples(db, samples);
      return samples.length;
    },
  };
}
