// What the operation lifecycle needs from its process: the settings, the catalogue and a Temporal
// client. The API server and the worker (for rollouts and the scheduled reconcile) each hand in their own.
import type { Client } from '@temporalio/client';
import type { Config } from '../domain/config';
import type { Database } from '../db/client';

export interface Deps {
  config: Config;
  db: Database;
  temporal: Client;
  /**
   * Admit a provision only if the cluster's picture the workers keep has room for it. The API
   * server always checks; in-process test apps may leave it off.
   */
  checkCapacity?: boolean;
}
