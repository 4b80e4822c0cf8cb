// Orphans: things carrying Shipyard's ownership marks for an instance the catalogue does not have
// (or has as `deleted`) — a namespace labelled managed-by=shipyard, a DNS name with Shipyard's owner
// TXT record, a Postgres role whose comment names an instance (and the database it owns). They are
// listed always and removed only with SHIPYARD_ORPHAN_CLEANUP=true, by the teardown's own
// activities, which check the marks again; what carries no mark is never even listed.
import { CoreV1Api } from '@kubernetes/client-node';
import { ListResourceRecordSetsCommand, type ResourceRecordSet } from '@aws-sdk/client-route-53';
import { inArray } from 'drizzle-orm';
import pLimit from 'p-limit';
import { instances } from '../db/schema';
import { recordEvent } from '../db/events';
import { recordSweepOrphans } from '../db/sweeps';
import { databaseNameFor, instanceLabel, managedByLabel, managedByValue } from '../domain/instance';
import { createDnsActivities, ownerRecordNameFor } from './dns';
import { kubeError, route53Error } from './errors';
import { HEALTH_ACTOR } from './health';
import type { ActivityDeps } from './deps';
import { createKubernetesActivities } from './kubernetes';
import { createTenantDatabaseActivities } from './tenant-database';

export interface Orphan {
  kind: 'namespace' | 'dns-record' | 'database';
  /** The namespace, the DNS name, or the database (and role) name. */
  name: string;
  /** The instance its mark names. */
  slug: string;
  /**
   * The cluster that instance was last placed in, when the catalogue still has its (deleted) row
   * and it was placed; absent otherwise (an unplaced instance, or one the catalogue never had).
   */
  cluster?: string;
}

const ownerValue = /^"heritage=shipyard,instance=([a-z0-9-]+)"$/;
const roleComment = /^managed-by=shipyard instance=([a-z0-9-]+)$/;

export function createOrphanActivities(deps: ActivityDeps) {
  const { config, db, kube, route53, tenantDb: sql } = deps;
  const core = kube.makeApiClient(CoreV1Api);
  const kubernetes = createKubernetesActivities(deps);
  const dns = createDnsActivities(deps);
  const tenantDatabase = createTenantDatabaseActivities(deps);

  async function marked(): Promise<Orphan[]> {
    const found: Orphan[] = [];
    try {
      const namespaces = await core.listNamespace({ labelSelector: `${managedByLabel}=${managedByValue}` });
      for (const ns of namespaces.items) {
        const slug = ns.metadata?.labels?.[instanceLabel];
        if (slug && ns.metadata?.name) found.push({ kind: 'namespace', name: ns.metadata.name, slug });
      }
    } catch (err) {
      throw kubeError('list namespaces', err);
    }

    let start: { name?: string; type?: string } = {};
    for (;;) {
      let page;
      try {
        page = await route53.send(
          new ListResourceRecordSetsCommand({ HostedZoneId: config.hostedZoneId, StartRecordName: start.name, StartRecordType: start.type as never, MaxItems: 300 }),
        );
      } catch (err) {
        throw route53Error('list DNS records', err);
      }
      for (const record of page.ResourceRecordSets ?? []) found.push(...ownerRecords(record));
      if (!page.IsTruncated) break;
      start = { name: page.NextRecordName, type: page.NextRecordType };
    }

    const roles = await sql<{ comment: string }[]>`
      select shobj_description(oid, 'pg_authid') as comment from pg_roles
      where shobj_description(oid, 'pg_authid') like 'managed-by=shipyard instance=%'`;
    // An instance's login roles carry its owner role's comment: one orphan per instance, whichever of its roles are left.
    const roleSlugs = new Set(roles.map(({ comment }) => roleComment.exec(comment)?.[1]).filter((slug) => slug !== undefined));
    for (const slug of roleSlugs) found.push({ kind: 'database', name: databaseNameFor(slug), slug });
    return found;
  }

  function ownerRecords(record: ResourceRecordSet): Orphan[] {
    if (record.Type !== 'TXT' || !record.Name?.startsWith('_shipyard-owner.')) return [];
    const hostname = record.Name.replace(/\.$/, '').slice('_shipyard-owner.'.length);
    return (record.ResourceRecords ?? []).flatMap((rr) => {
      const slug = ownerValue.exec(rr.Value ?? '')?.[1];
      // Only a record at the very name Shipyard would give that instance.
      return slug && ownerRecordNameFor(`${slug}.${config.baseDomain}`) === record.Name!.replace(/\.$/, '')
        ? [{ kind: 'dns-record' as const, name: hostname, slug }]
        : [];
    });
  }

  async function findOrphans(): Promise<Orphan[]> {
    const all = await marked();
    const slugs = [...new Set(all.map((o) => o.slug))];
    if (slugs.length === 0) return [];
    // Rows are written before anything is made outside and kept after teardown: a slug with a
    // live row is an instance being provisioned, running, failed or torn down — never an orphan.
    const rows = await db.select({ slug: instances.slug, status: instances.status, cluster: instances.cluster }).from(instances).where(inArray(instances.slug, slugs));
    const live = new Set(rows.filter((row) => row.status !== 'deleted').map((row) => row.slug));
    const placedIn = new Map(rows.flatMap((row) => (row.cluster === null ? [] : [[row.slug, row.cluster] as const])));
    return all
      .filter((o) => !live.has(o.slug))
      .map((o) => (placedIn.has(o.slug) ? { ...o, cluster: placedIn.get(o.slug)! } : o))
      .sort((a, b) => a.slug.localeCompare(b.slug) || a.kind.localeCompare(b.kind));
  }

  async function removeOrphan(orphan: Orphan): Promise<void> {
    switch (orphan.kind) {
      case 'namespace':
        await kubernetes.deleteNamespace(orphan.slug);
        break;
      case 'dns-record':
        await dns.deleteDnsRecord(orphan.slug);
        break;
      case 'database':
        await tenantDatabase.dropTenantDatabase(orphan.slug);
        break;
    }
    await recordEvent(db, { actor: HEALTH_ACTOR, action: 'orphan.remove', outcome: 'succeeded', message: `${orphan.kind} ${orphan.name} (instance ${orphan.slug})` });
  }

  return {
    findOrphans,
    removeOrphan,

    /**
     * The sweep's last step: finds the orphans, removes them when SHIPYARD_ORPHAN_CLEANUP=true, and
     * records on the sweep what it found (`GET /v1/health/orphans` answers from it).
     */
    async sweepOrphans(sweepId: string): Promise<number> {
      const orphans = await findOrphans();
      const found = orphans.map((o) => ({ ...o, removed: false }));
      if (config.orphanCleanup) {
        // A namespace takes seconds to go: as many at once as a sweep checks instances.
        const limit = pLimit(config.healthParallelism);
        await Promise.all(
          found.map((orphan) =>
            limit(async () => {
              await removeOrphan(orphan);
              orphan.removed = true;
            }),
          ),
        );
      }
      await recordSweepOrphans(db, sweepId, found);
      return orphans.length;
    },
  };
}
