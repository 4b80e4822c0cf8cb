// The OpenAPI document as the API serves it at /openapi.json, built without a server, a database
// or Temporal: routes are only registered, never run. `npm run client:generate` writes the typed
// client from it, and a test checks the checked-in client still matches it.
import { build } from './app';
import { loadConfig } from '../domain/config';
import type { Deps } from '../lifecycle/deps';

/** A dependency no route may touch while the document is built: any use is a bug, said loudly. */
function untouchable<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get(_target, property) {
      throw new Error(`building the OpenAPI document used ${name}.${String(property)}; the document must come from the route schemas alone`);
    },
  });
}

export async function openApiDocument(): Promise<Record<string, unknown>> {
  // Placeholders for the settings that have no default: none of them shapes the document.
  const config = loadConfig({
    DATABASE_URL: 'postgres://document@localhost/document',
    TENANT_DATABASE_URL: 'postgres://document@localhost/document',
    SHIPYARD_HOSTED_ZONE_ID: 'document',
    SHIPYARD_BACKUP_BUCKET: 'document',
    SHIPYARD_ENCRYPTION: 'off',
  });
  const app = await build({ config, db: untouchable<Deps['db']>('db'), temporal: untouchable<Deps['temporal']>('temporal') });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}
