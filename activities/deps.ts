// The clients every activity is built from (createActivities in index.ts): handed in by the
// worker, or by tests with real parts. In a module of its own so that the activity modules and the
// factory that gathers them do not import each other.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import type { Sql } from 'postgres';
import type { Config } from '../domain/config';
import type { Database } from '../db/client';

export interface ActivityDeps {
  config: Config;
  kube: KubeConfig;
  route53: Route53Client;
  /** Object storage of backups (SHIPYARD_BACKUP_BUCKET). */
  s3: S3Client;
  /** Connection to TENANT_DATABASE_URL, as a role that may create databases and roles. */
  tenantDb: Sql;
  /** The catalogue (DATABASE_URL). */
  db: Database;
  /** Temporal, for reconciling catalogue rows with the runs behind them. */
  temporal: Client;
}
