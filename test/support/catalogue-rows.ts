// Catalogue rows made directly, for tests of the catalogue itself: an instance with its provision
// operation, as the API inserts them, under a slug no other test uses.
import * as catalogue from '../../db/catalogue';
import type { Database } from '../../db/client';
import { uniqueSuffix } from './config';

export async function newCatalogueInstance(db: Database, prefix: string) {
  const slug = `${prefix}-${uniqueSuffix()}${uniqueSuffix()}`;
  const instanceId = catalogue.newId('ins');
  const operationId = catalogue.newId('op');
  await catalogue.insertInstanceWithOperation(
    db,
    { id: instanceId, slug, name: slug, plan: 'starter', version: '1.0.0', ownerEmail: 'owner@example.com' },
    { id: operationId, instanceId, kind: 'provision', workflowId: `instance:${slug}`, actor: 'test' },
  );
  return { slug, instanceId, operationId };
}
