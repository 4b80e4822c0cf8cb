// All of Shipyard's I/O, as Temporal activities. Built by a factory from explicit clients so
// tests can hand in real parts (or, for pure-logic tests, fakes); no module-level clients.
import type { ActivityDeps } from './deps';
import { createBackupActivities } from './backups';
import { createBackupSweepActivities } from './backup-sweep';
import { createCapacityActivities } from './capacity';
import { createClusterActivities } from './clusters';
import { createCatalogueActivities } from './catalogue';
import { createCredentialActivities } from './credentials';
import { createDnsActivities } from './dns';
import { createInvoicingActivities } from './invoicing';
import { createHealthActivities } from './health';
import { createKubernetesActivities } from './kubernetes';
import { createMeteringActivities } from './metering';
import { createOrphanActivities } from './orphans';
import { createReconcileActivities } from './reconcile';
import { createRolloutActivities } from './rollouts';
import { createTenantDatabaseActivities } from './tenant-database';
import { createWebhookActivities } from './webhooks';


export function createActivities(deps: ActivityDeps) {
  return {
    ...createCatalogueActivities(deps),
    ...createTenantDatabaseActivities(deps),
    ...createKubernetesActivities(deps),
    ...createDnsActivities(deps),
    ...createReconcileActivities(deps),
    ...createCapacityActivities(deps),
    ...createMeteringActivities(deps),
    ...createInvoicingActivities(deps),
    ...createWebhookActivities(deps),
    ...createHealthActivities(deps),
    ...createOrphanActivities(deps),
    ...createRolloutActivities(deps),
    ...createBackupActivities(deps),
    ...createBackupSweepActivities(deps),
    ...createCredentialActivities(deps),
    ...createClusterActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
