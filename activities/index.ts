// All of Shipyard's I/O, as Temporal activities. Built by a factory from explicit clients so
// tests can hand in real parts (or, for pure-logic tests, fakes); no module-level clients.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { Client } from '@temporalio/client';
import type { Sql } from 'postgres';
import type { Config } from '../domain/config';
import type { Database } from '../db/client';
import { createCapacityActivities } from './capacity';
import { createCatalogueActivities } from './catalogue';
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

export interface ActivityDeps {
  config: Config;
  kube: KubeConfig;
  route53: Route53Client;
  /** Connection to TENANT_DATABASE_URL, as a role that may create databases and roles. */
  tenantDb: Sql;
  /** The catalogue (DATABASE_URL). */
  db: Database;
  /** Temporal, for reconciling catalogue rows with the runs behind them. */
  temporal: Client;
}

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
  };
}

export type Activities = ReturnType<typeof createActivities>;
