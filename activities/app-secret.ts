// The instance's Secret `app-env` (DATABASE_URL and APP_SECRET): written by provisioning and by a
// restore (which puts a backup's APP_SECRET back), read by backups. Generated values never leave
// the worker except into the Secret and, as a SCRAM verifier, into Postgres.
import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { Sql } from 'postgres';
import type { Config } from '../domain/config';
import { databaseNameFor, databaseRoleFor } from '../domain/instance';
import { refs, type KubeObjects } from './kube-objects';
import { appSecretManifest, tenantDatabaseUrl } from './manifests';
import { loginRolesFor, setTenantRolePassword } from './tenant-database';

const b64decode = (s: string | undefined): string | undefined => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

export interface AppSecretDeps {
  config: Pick<Config, 'tenantDatabaseUrl'>;
  tenantDb: Sql;
  objects: KubeObjects;
}

/**
 * Writes Secret `app-env`: the database login and password already in the Secret are kept (else
 * the owner role and a new password), and Postgres is made to agree with them; APP_SECRET is
 * `appSecret` when given, else the one in the Secret (else a new one). So a retry rotates nothing,
 * and a restore changes only APP_SECRET. (A rotation writes the Secret itself: credentials.ts.)
 */
export async function writeAppSecret({ config, tenantDb, objects }: AppSecretDeps, slug: string, appSecret?: string): Promise<void> {
  await objects.requireNamespace(slug);
  const existing = await objects.readOwned<V1Secret>(slug, refs.appSecret(slug));
  let password: string | undefined;
  let role = databaseRoleFor(slug);
  const login = databaseLoginOf(existing);
  if (login) {
    password = login.password || undefined;
    // A login role a rotation moved the app to is kept; anything else is replaced by the owner role.
    if (loginRolesFor(slug).includes(login.role)) role = login.role;
  }
  password ??= randomBytes(24).toString('base64url');
  const secret = appSecret || b64decode(existing?.data?.APP_SECRET) || randomBytes(32).toString('base64url');
  const databaseUrl = tenantDatabaseUrl(config.tenantDatabaseUrl, databaseNameFor(slug), role, password);
  await objects.apply(slug, appSecretManifest(slug, { databaseUrl, appSecret: secret }));
  await setTenantRolePassword(tenantDb, slug, password, role);
}

/** The role and password of the Secret's DATABASE_URL; undefined when it has none or it is unreadable. */
export function databaseLoginOf(secret: V1Secret | undefined): { role: string; password: string } | undefined {
  const url = b64decode(secret?.data?.DATABASE_URL);
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    return { role: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) };
  } catch {
    return undefined; // unreadable: replaced, and Postgres updated to match
  }
}

/** The instance's APP_SECRET, or undefined when its Secret (or the value in it) is missing. */
export async function readAppSecret(objects: KubeObjects, slug: string): Promise<string | undefined> {
  const secret = await objects.readOwned<V1Secret>(slug, refs.appSecret(slug));
  return b64decode(secret?.data?.APP_SECRET) || undefined;
}
