// Catalogue rows made directly, for tests of the catalogue itself: an instance with its provision
// operation, as the API inserts them, under a slug no other test uses; a plan of a given size.
import { newId } from '../../db/ids';
import { insertInstanceWithOperation } from '../../db/operations';
import type { Database } from '../../db/client';
import type { Plan } from '../../domain/instance';
import { uniqueSuffix } from './config';

export async function newCatalogueInstance(db: Database, prefix: string, ownerEmail = 'owner@example.com') {
  const slug = `${prefix}-${uniqueSuffix()}${uniqueSuffix()}`;
  const instanceId = newId('ins');
  const operationId = newId('op');
  await insertInstanceWithOperation(
    db,
    { id: instanceId, slug, name: slug, plan: 'starter', version: '1.0.0', ownerEmail },
    { id: operationId, instanceId, kind: 'provision', workflowId: `instance:${slug}`, actor: 'test' },
  );
  return { slug, instanceId, operationId };
}

/** The backup fields of a plan that takes no scheduled backups, for plans written out in tests. */
export const noBackups = { backupEveryHours: null, backupKeepCount: 7, backupKeepDays: 30, backupPricePerGbMonthCents: 0 };

/** A one-pod plan with `cpu` CPUs, for a test that inserts it (under a name of its own) and deletes it after. */
export const testPlan = (name: string, cpu: string): Plan => ({
  name, cpu, memory: '2Gi', pods: 1, replicas: 1, pricePerHourCents: 1, suspendedPricePerHourCents: 0, dbConnections: 5, ...noBackups,
});
