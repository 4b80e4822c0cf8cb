// Orphans against the real Kubernetes, Route 53 and Postgres: a namespace, DNS record and tenant
// database + role made with Shipyard's marks for an instance the catalogue does not have are
// listed, and removed by a sweep with SHIPYARD_ORPHAN_CLEANUP=true; a namespace and a role of the
// same shape without the marks are never listed nor touched. Alone (the exclusive project): the
// cleanup removes every orphan on the testbed, and a file running beside it may have objects
// whose catalogue row is not written yet.
import type { Connection } from '@temporalio/client';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDnsActivities } from '../../activities/dns';
import { createKubernetesActivities } from '../../activities/kubernetes';
import { createOrphanActivities, type Orphan } from '../../activities/orphans';
import { createTenantDatabaseActivities } from '../../activities/tenant-database';
import { connectCatalogue, type Database } from '../../db/client';
import { getSweep, openSweep } from '../../db/sweeps';
import { migrateCatalogue } from '../../db/migrate';
import { databaseNameFor, namespaceFor } from '../../domain/instance';
import { connectTemporalClient } from '../../temporal/data-converter';
import { inActivity } from '../activities/activity-context';
import { testbedDeps, testPlan, uniqueSlug } from '../activities/testbed-deps';

const deps = testbedDeps();
let db: Database;
let connection: Connection;
let orphans: ReturnType<typeof createOrphanActivities>;
let cleaning: ReturnType<typeof createOrphanActivities>;
const core = deps.kube.makeApiClient(CoreV1Api);
const run = <T>(fn: () => Promise<T>) => inActivity(fn).then((r) => r.result);

const orphan = uniqueSlug('orph');
const unmarked = uniqueSlug('orph');

beforeAll(async () => {
  await migrateCatalogue(deps.config.databaseUrl);
  db = connectCatalogue(deps.config.databaseUrl, { max: 2 });
  const temporal = await connectTemporalClient(deps.config);
  connection = temporal.connection;
  const full = { ...deps, db, temporal: temporal.client };
  orphans = createOrphanActivities(full);
  cleaning = createOrphanActivities({ ...full, config: { ...deps.config, orphanCleanup: true } });

  // What a provision cut short after its catalogue row was lost would leave: marked, no row.
  const tenantDb = createTenantDatabaseActivities(deps);
  const kubernetes = createKubernetesActivities(full);
  await tenantDb.ensureTenantDatabase(orphan, { connectionLimit: 2 });
  await kubernetes.applyNamespace(orphan, testPlan);
  await run(() => createDnsActivities(deps).upsertDnsRecord(orphan));
  // The same names without the marks: someone else's.
  await core.createNamespace({ body: { metadata: { name: namespaceFor(unmarked) } } });
  await deps.tenantDb`create role ${deps.tenantDb(databaseNameFor(unmarked))} nologin`;
});

afterAll(async () => {
  await core.deleteNamespace({ name: namespaceFor(unmarked) }).catch(() => undefined);
  await deps.tenantDb`drop role if exists ${deps.tenantDb(databaseNameFor(unmarked))}`;
  await deps.tenantDb.end();
  deps.route53.destroy();
  await db?.$client.end();
  await connection?.close();
});

const ours = (list: Orphan[]) => list.filter((o) => o.slug === orphan || o.slug === unmarked);

describe('orphans', () => {
  it('are listed by their marks and recorded on the sweep; a sweep with cleanup on removes them; unmarked objects are never touched', async () => {
    const found = ours(await orphans.findOrphans());
    expect(found).toEqual([
      { kind: 'database', name: databaseNameFor(orphan), slug: orphan },
      { kind: 'dns-record', name: `${orphan}.${deps.config.baseDomain}`, slug: orphan },
      { kind: 'namespace', name: namespaceFor(orphan), slug: orphan },
    ]);

    // A sweep records what it found (cleanup is off by default) and removes nothing.
    expect(deps.config.orphanCleanup).toBe(false);
    const sweep = await openSweep(db, `test-orphans-${orphan}`);
    await run(() => orphans.sweepOrphans(sweep.id));
    const recorded = (await getSweep(db, sweep.id))!.orphans!;
    expect(ours(recorded as Orphan[])).toEqual(found.map((o) => ({ ...o, removed: false })));
    expect(ours(await orphans.findOrphans())).toHaveLength(3);

    // With cleanup on, the sweep removes them (the teardown's own activities, which check the
    // marks again) and records that it did.
    const cleanup = await openSweep(db, `test-orphan-cleanup-${orphan}`);
    await run(() => cleaning.sweepOrphans(cleanup.id));
    const removed = (await getSweep(db, cleanup.id))!.orphans!;
    expect(ours(removed as Orphan[])).toEqual(found.map((o) => ({ ...o, removed: true })));
    expect(ours(await orphans.findOrphans())).toEqual([]);
    expect(await core.readNamespace({ name: namespaceFor(orphan) }).then(() => 'still there', (err: { code?: number }) => err.code)).toBe(404);
    const [db1] = await deps.tenantDb`select count(*)::int as n from pg_database where datname = ${databaseNameFor(orphan)}`;
    expect(db1!.n).toBe(0);

    // The unmarked namespace and role are still there, as they were.
    expect((await core.readNamespace({ name: namespaceFor(unmarked) })).metadata?.deletionTimestamp).toBeUndefined();
    const [role] = await deps.tenantDb`select count(*)::int as n from pg_roles where rolname = ${databaseNameFor(unmarked)}`;
    expect(role!.n).toBe(1);
  }, 180_000);
});
