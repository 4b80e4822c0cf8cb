// `npx tsx bench/metering-hour.ts [instances]`: how long closing one hour takes for N instances
// (default 1,000), each with a few status changes in that hour. Writes synthetic instances into
// the catalogue at DATABASE_URL: run it against a scratch database.
import { connectCatalogue } from '../db/client';
import { newId } from '../db/ids';
import { meterHour } from '../db/metering';
import { migrateCatalogue } from '../db/migrate';
import { instances, instanceStatusChanges } from '../db/schema';
import { HOUR_MS, hourOf } from '../domain/metering';
import { loadConfig } from '../domain/config';

const count = Number(process.argv[2] ?? 1000);
const config = loadConfig(process.env);
await migrateCatalogue(config.databaseUrl);
const db = connectCatalogue(config.databaseUrl, { max: 2 });
const hour = new Date(hourOf(new Date()).getTime() - 1000 * HOUR_MS);
const at = (minutes: number) => new Date(hour.getTime() + minutes * 60_000);
const run = Date.now().toString(36);
for (let i = 0; i < count; i += 500) {
  const batch = Array.from({ length: Math.min(500, count - i) }, (_, j) => {
    const id = newId('ins');
    return { id, slug: `bench-${run}-${i + j}`, name: 'bench', plan: 'starter', version: '1.0.0', status: 'ready' as const, ownerEmail: 'bench@example.com' };
  });
  await db.insert(instances).values(batch);
  await db.insert(instanceStatusChanges).values(
    batch.flatMap(({ id }) => [
      { instanceId: id, status: 'ready' as const, plan: 'starter', at: at(-30) },
      { instanceId: id, status: 'suspended' as const, plan: 'starter', at: at(20) },
      { instanceId: id, status: 'ready' as const, plan: 'standard', at: at(40) },
    ]),
  );
}
const started = performance.now();
const rows = await meterHour(db, `bench-${run}`, hour);
console.log(`metered one hour of ${count} instances: ${rows} ledger rows in ${Math.round(performance.now() - started)} ms`);
await db.$client.end();
