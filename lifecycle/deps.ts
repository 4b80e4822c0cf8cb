// What the operation lifecycle needs from its process: the settings, the catalogue and a Temporal
// client. The API server and the worker (for rollouts and the scheduled reconcile) each hand in their own.
import type { Client } from '@temporalio/client';
import type { ClusterListing } from '../domain/capacity';
import type { Config } from '../domain/config';
import type { Database } from '../db/client';

export interface Deps {
  config: Config;
  db: Database;
  temporal: Client;
  /** The cluster, read for the capacity check before a provision; the API server always has one. */
  listCluster?: () => Promise<ClusterListing>;
}
