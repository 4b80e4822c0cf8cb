// Each instance's own Postgres database and login role, in the tenant cluster (TENANT_DATABASE_URL).
// The admin connection holds CREATEDB and CREATEROLE, not superuser: everything here must work
// within what such a role may do.
import type { Sql } from 'postgres';
import { databaseNameFor, databaseRoleFor, managedByValue } from '../domain/instance';
import type { ActivityDeps } from './index';
import { errorTypes, notOwned, permanent, postgresError } from './errors';

// The ownership mark on a role. Set in the same transaction that creates the role, so a role
// with our name but without this comment was made by someone else.
const roleComment = (slug: string): string => `managed-by=${managedByValue} instance=${slug}`;

/** A Postgres identifier for one of our names. Slugs are validated upstream; this re-checks,
 *  because these names end up in DDL where parameters are not allowed. */
function tenantName(slug: string): string {
  const name = databaseNameFor(slug);
  if (!/^tenant_[a-z][a-z0-9_]*$/.test(name) || name.length > 63) {
    throw permanent(`"${slug}" cannot name a Postgres database (must match [a-z][a-z0-9-]*, at most 56 chars)`, errorTypes.invalidSpec);
  }
  return name;
}

/** A SQL string literal (standard_conforming_strings is on since Postgres 9.1, so only quotes need doubling). */
function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw permanent('a password must not contain NUL', errorTypes.invalidSpec);
  return `'${value.replaceAll("'", "''")}'`;
}

interface RoleRow {
  comment: string | null;
}

async function readRole(sql: Sql, role: string): Promise<RoleRow | undefined> {
  const rows = await sql<RoleRow[]>`
    select shobj_description(oid, 'pg_authid') as comment from pg_roles where rolname = ${role}`;
  return rows[0];
}

async function assertRoleOwned(sql: Sql, slug: string, role: string): Promise<'absent' | 'ours'> {
  const row = await readRole(sql, role);
  if (!row) return 'absent';
  if (row.comment !== roleComment(slug)) {
    throw notOwned(`Postgres role ${role}`, `its comment is ${row.comment === null ? 'empty' : `"${row.comment}"`}`);
  }
  return 'ours';
}

/** Owner of a database, or undefined when there is no such database. */
async function databaseOwner(sql: Sql, database: string): Promise<string | undefined> {
  const rows = await sql<{ owner: string }[]>`
    select r.rolname as owner from pg_database d join pg_roles r on r.oid = d.datdba where d.datname = ${database}`;
  return rows[0]?.owner;
}

/**
 * Sets the tenant role's password. Used by writeAppSecret, which keeps the password in the
 * instance's Secret and makes Postgres agree with it on every run.
 */
export async function setTenantRolePassword(sql: Sql, slug: string, password: string): Promise<void> {
  const role = tenantName(slug);
  const action = `set the password of Postgres role ${role}`;
  try {
    if ((await assertRoleOwned(sql, slug, role)) === 'absent') {
      throw permanent(`cannot ${action}: the role does not exist (ensureTenantDatabase has not run)`, errorTypes.missingDependency);
    }
    // Password commands take no bind parameters, so the literal is quoted here. The server's
    // error messages never echo the statement, so the password does not travel in failures.
    await sql.unsafe(`alter role "${role}" password ${quoteLiteral(password)}`);
  } catch (err) {
    throw postgresError(action, err);
  }
}

export function createTenantDatabaseActivities({ tenantDb: sql }: Pick<ActivityDeps, 'tenantDb'>) {
  return {
    /**
     * Role `tenant_<slug>` (LOGIN, password set later by writeAppSecret) owning database
     * `tenant_<slug>`, which only that role may connect to. Create-if-absent; safe to repeat.
     */
    async ensureTenantDatabase(slug: string, _limits?: { connectionLimit: number }): Promise<void> {
      const name = tenantName(slug);
      const role = databaseRoleFor(slug);
      let step = `create Postgres role ${role}`;
      try {
        if ((await assertRoleOwned(sql, slug, role)) === 'absent') {
          try {
            await sql.begin(async (tx) => {
              await tx`create role ${tx(role)} login`;
              await tx.unsafe(`comment on role "${role}" is ${quoteLiteral(roleComment(slug))}`);
            });
          } catch (err) {
            // Another attempt created it between our check and our create; its comment decides below.
            if (!(err instanceof Error && (err as { code?: string }).code === '42710')) throw err;
            await assertRoleOwned(sql, slug, role);
          }
        }
        await sql`alter role ${sql(role)} login`;
        // Since Postgres 16 a CREATEROLE role gets only ADMIN on the roles it creates; it needs
        // membership to hand the new database to the role and, later, to drop that database.
        step = `make the admin role a member of ${role}`;
        await sql`grant ${sql(role)} to current_user`;

        step = `create Postgres database ${name}`;
        const owner = await databaseOwner(sql, name);
        if (owner === undefined) {
          try {
            await sql`create database ${sql(name)} owner ${sql(role)}`;
          } catch (err) {
            if (!(err instanceof Error && (err as { code?: string }).code === '42P04')) throw err;
          }
        }
        const ownerNow = await databaseOwner(sql, name);
        if (ownerNow !== role) throw notOwned(`Postgres database ${name}`, `it is owned by ${ownerNow ?? 'nobody'}, not ${role}`);

        // New databases grant CONNECT to PUBLIC; without this revoke every tenant role could
        // open every other tenant's database.
        step = `restrict connections to database ${name}`;
        await sql`revoke connect, temporary on database ${sql(name)} from public`;
        await sql`grant connect, temporary on database ${sql(name)} to ${sql(role)}`;
      } catch (err) {
        throw postgresError(step, err);
      }
    },

    /** Drops the database (closing its sessions) and the role. Absent = done. */
    async dropTenantDatabase(slug: string): Promise<void> {
      const name = tenantName(slug);
      const role = databaseRoleFor(slug);
      let step = `drop Postgres database ${name}`;
      try {
        const roleState = await assertRoleOwned(sql, slug, role);
        const owner = await databaseOwner(sql, name);
        if (owner !== undefined) {
          if (owner !== role || roleState !== 'ours') {
            throw notOwned(`Postgres database ${name}`, `it is owned by ${owner}, which is not Shipyard's role ${role}`);
          }
          // FORCE terminates the app's open sessions first; without it the drop fails while any
          // replica still holds a connection.
          await sql`drop database if exists ${sql(name)} with (force)`;
        }
        step = `drop Postgres role ${role}`;
        if (roleState === 'ours') await sql`drop role if exists ${sql(role)}`;
      } catch (err) {
        throw postgresError(step, err);
      }
    },
  };
}
