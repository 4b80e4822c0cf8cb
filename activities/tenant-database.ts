// Each instance's own Postgres database and login role, in the tenant cluster (TENANT_DATABASE_URL).
// The admin connection holds CREATEDB and CREATEROLE, not superuser: everything here must work
// within what such a role may do.
//
// Isolation rests on two things: every tenant role is a member of `tenantRoleGroup`, which the
// server's pg_hba.conf admits only to the database named like a role it is a member of
// (`samerole`) — see README, "Pointing Shipyard at real infrastructure"; and each tenant database
// grants CONNECT to its own role only, so even a server without those rules keeps tenants out of
// each other's databases.
//
// The owner role `tenant_<slug>` owns the database and everything in it. The app logs in as it
// until its first credential rotation; from then on it logs in as one of two login roles
// (loginRolesFor), members of the owner role whose sessions act as it (`SET role`). Postgres keeps
// one password per role, so two roles that take turns let the new password work before the old one
// stops (see activities/credentials.ts).
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { Sql } from 'postgres';
import { databaseNameFor, databaseRoleFor, managedByValue } from '../domain/instance';
import type { ActivityDeps } from './deps';
import { errorTypes, notOwned, permanent, postgresError } from './errors';

// The ownership mark on a role. Set in the same transaction that creates the role, so a role
// with our name but without this comment was made by someone else.
const roleComment = (slug: string): string => `managed-by=${managedByValue} instance=${slug}`;

/**
 * The group every tenant role belongs to. pg_hba.conf names it (`+shipyard_tenant_roles`) to let
 * its members into their own database only; made by ensureTenantDatabase when absent, so the
 * admin role holds ADMIN on it (which Postgres 16+ requires to grant it).
 */
export const tenantRoleGroup = 'shipyard_tenant_roles';
const groupComment = `managed-by=${managedByValue} tenant-role-group`;

/**
 * A create that lost to another session making the same object: `duplicate_object` (42710) or
 * `duplicate_database` (42P04) when the other one had committed, a unique violation (23505) on the
 * system catalogue when both were inserting at once.
 */
function madeMeanwhile(err: unknown, code: '42710' | '42P04'): boolean {
  const actual = err instanceof Error ? (err as { code?: string }).code : undefined;
  return actual === code || actual === '23505';
}

export interface TenantDatabaseLimits {
  /** Sessions the tenant role may hold at once (the plan's dbConnections). */
  connectionLimit: number;
}

/** A Postgres identifier for one of our names. Slugs are validated upstream; this re-checks,
 *  because these names end up in DDL where parameters are not allowed. */
export function tenantName(slug: string): string {
  const name = databaseNameFor(slug);
  if (!/^tenant_[a-z][a-z0-9_]*$/.test(name) || name.length > 63) {
    throw permanent(`"${slug}" cannot name a Postgres database (must match [a-z][a-z0-9-]*, at most 56 chars)`, errorTypes.invalidSpec);
  }
  return name;
}

/** A SQL string literal (standard_conforming_strings is on since Postgres 9.1, so only quotes need doubling). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw permanent('a SQL literal must not contain NUL', errorTypes.invalidSpec);
  return `'${value.replaceAll("'", "''")}'`;
}

const SCRAM_ITERATIONS = 4096; // Postgres's own default (scram_iterations)

/**
 * The SCRAM-SHA-256 verifier Postgres stores for `password` (RFC 5802 / RFC 7677, in the
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` form Postgres accepts in
 * ALTER ROLE … PASSWORD). Sending this instead of the password keeps the plaintext out of the
 * statement, and so out of the server's log when the statement fails.
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  // Postgres runs SASLprep over the password; for printable ASCII that is the identity, so
  // anything else is refused rather than hashed differently from what the server expects.
  if (!/^[\x21-\x7e]+$/.test(password)) {
    throw permanent('a tenant password must be printable ASCII without spaces', errorTypes.invalidSpec);
  }
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

function connectionLimitOf(limits: TenantDatabaseLimits | undefined): number {
  // Optional chaining: a task scheduled by a workflow that predates the limits carries none.
  const n = limits?.connectionLimit;
  // -1 is Postgres's "no limit"; a plan must always set one.
  if (n === undefined || !Number.isInteger(n) || n < 1) {
    throw permanent(`a tenant database connection limit must be a positive integer, not ${n}`, errorTypes.invalidSpec);
  }
  return n;
}

interface RoleRow {
  comment: string | null;
}

async function readRole(sql: Sql, role: string): Promise<RoleRow | undefined> {
  const rows = await sql<RoleRow[]>`
    select shobj_description(oid, 'pg_authid') as comment from pg_roles where rolname = ${role}`;
  return rows[0];
}

export async function assertRoleOwned(sql: Sql, slug: string, role: string): Promise<'absent' | 'ours'> {
  const row = await readRole(sql, role);
  if (!row) return 'absent';
  if (row.comment !== roleComment(slug)) {
    throw notOwned(`Postgres role ${role}`, `its comment is ${row.comment === null ? 'empty' : `"${row.comment}"`}`);
  }
  return 'ours';
}

/** The tenant role group, made if absent; a group of that name made by someone else is refused. */
async function ensureRoleGroup(sql: Sql): Promise<void> {
  let row = await readRole(sql, tenantRoleGroup);
  if (!row) {
    try {
      await sql.begin(async (tx) => {
        await tx`create role ${tx(tenantRoleGroup)} nologin`;
        await tx.unsafe(`comment on role "${tenantRoleGroup}" is ${quoteLiteral(groupComment)}`);
      });
    } catch (err) {
      // Another activity made it between our check and our create (two first provisions at once).
      if (!madeMeanwhile(err, '42710')) throw err;
    }
    row = await readRole(sql, tenantRoleGroup);
  }
  // Its members inherit whatever it holds, so a group Shipyard did not make is not trusted.
  if (row?.comment !== groupComment) {
    throw notOwned(`Postgres role ${tenantRoleGroup}`, `its comment is ${row?.comment ? `"${row.comment}"` : 'empty'}`);
  }
}

/**
 * Role `role` of instance `slug`, made if absent: NOLOGIN and a member of tenantRoleGroup from the
 * start, so there is no moment at which it could log in without the group's pg_hba.conf rules
 * applying to it; marked as the instance's in the same transaction. One of that name made by
 * someone else is refused.
 */
async function ensureTenantRole(sql: Sql, slug: string, role: string): Promise<void> {
  if ((await assertRoleOwned(sql, slug, role)) !== 'absent') return;
  try {
    await sql.begin(async (tx) => {
      await tx`create role ${tx(role)} nologin in role ${tx(tenantRoleGroup)}`;
      await tx.unsafe(`comment on role "${role}" is ${quoteLiteral(roleComment(slug))}`);
    });
  } catch (err) {
    // Another attempt created it between our check and our create; its comment decides.
    if (!madeMeanwhile(err, '42710')) throw err;
    await assertRoleOwned(sql, slug, role);
  }
}

/** Owner of a database, or undefined when there is no such database. */
export async function databaseOwner(sql: Sql, database: string): Promise<string | undefined> {
  const rows = await sql<{ owner: string }[]>`
    select r.rolname as owner from pg_database d join pg_roles r on r.oid = d.datdba where d.datname = ${database}`;
  return rows[0]?.owner;
}

/**
 * Sets the password of the tenant role the app logs in as: the owner role, or (given `role`) one
 * of its login roles, which is also let log in. Used by writeAppSecret, which keeps the password in
 * the instance's Secret and makes Postgres agree with it on every run.
 */
export async function setTenantRolePassword(sql: Sql, slug: string, password: string, role: string = tenantName(slug)): Promise<void> {
  const owner = tenantName(slug);
  if (role !== owner) requireLoginRole(slug, role);
  const action = `set the password of Postgres role ${role}`;
  try {
    if ((await assertRoleOwned(sql, slug, role)) === 'absent') {
      throw permanent(`cannot ${action}: the role does not exist (ensureTenantDatabase has not run)`, errorTypes.missingDependency);
    }
    // Password commands take no bind parameters, so the literal is quoted here. Only the
    // verifier leaves this process: Postgres logs a failed statement's text, and a verifier
    // there gives away no password.
    await sql.unsafe(`alter role "${role}"${role === owner ? '' : ' login'} password ${quoteLiteral(scramSha256Verifier(password))}`);
  } catch (err) {
    throw postgresError(action, err);
  }
}

/**
 * The two login roles of an instance, which the app takes in turns, one rotation after another.
 * Named from a digest of the slug so that any slug's names fit Postgres's 63 characters; marked as
 * the instance's with the same comment as its owner role.
 */
export function loginRolesFor(slug: string): readonly [string, string] {
  tenantName(slug);
  const tag = createHash('sha256').update(slug).digest('hex').slice(0, 12);
  return [`tenant_login_${tag}_a`, `tenant_login_${tag}_b`];
}

/** The login roles of `slug` that exist (and are Shipyard's: another's is refused). */
export async function existingLoginRoles(sql: Sql, slug: string): Promise<string[]> {
  const found: string[] = [];
  for (const role of loginRolesFor(slug)) if ((await assertRoleOwned(sql, slug, role)) === 'ours') found.push(role);
  return found;
}

function requireLoginRole(slug: string, role: string): void {
  if (!loginRolesFor(slug).includes(role)) throw permanent(`${role} is not a login role of instance ${slug}`, errorTypes.invalidSpec);
}

/**
 * Login role `role` of `slug` (one of loginRolesFor), made if absent: NOLOGIN until it is given a
 * password, a member of the tenant role group and of the owner role, its sessions acting as the
 * owner (so what the app creates is the owner's, whichever login made it), and the admin a member
 * of it (to end its sessions). The owner role must exist.
 */
export async function ensureLoginRole(sql: Sql, slug: string, role: string): Promise<void> {
  requireLoginRole(slug, role);
  const owner = tenantName(slug);
  let step = `create Postgres role ${role}`;
  try {
    if ((await assertRoleOwned(sql, slug, owner)) === 'absent') {
      throw permanent(`cannot ${step}: its owner role ${owner} does not exist (ensureTenantDatabase has not run)`, errorTypes.missingDependency);
    }
    await ensureTenantRole(sql, slug, role);
    step = `make Postgres role ${role} act as ${owner}`;
    await sql`grant ${sql(tenantRoleGroup)} to ${sql(role)}`;
    await sql`grant ${sql(owner)} to ${sql(role)}`;
    await sql.unsafe(`alter role "${role}" set role = ${quoteLiteral(owner)}`);
    step = `make the admin role a member of ${role}`;
    await sql`grant ${sql(role)} to current_user`;
  } catch (err) {
    throw postgresError(step, err);
  }
}

/** Lets login role `role` of `slug` log in with `password` (made if absent), with at most `connectionLimit` sessions. */
export async function enableLoginRole(sql: Sql, slug: string, role: string, password: string, connectionLimit: number): Promise<void> {
  const limit = connectionLimitOf({ connectionLimit });
  await ensureLoginRole(sql, slug, role);
  try {
    // Only the verifier leaves this process (see setTenantRolePassword).
    await sql.unsafe(`alter role "${role}" login connection limit ${limit} password ${quoteLiteral(scramSha256Verifier(password))}`);
  } catch (err) {
    throw postgresError(`let Postgres role ${role} log in`, err);
  }
}

/**
 * Stops `role` (the owner role or a login role of `slug`) from logging in: NOLOGIN, no password,
 * and its open sessions ended. Absent = done.
 */
export async function disableLogin(sql: Sql, slug: string, role: string): Promise<void> {
  if (role !== tenantName(slug)) requireLoginRole(slug, role);
  const action = `stop Postgres role ${role} from logging in`;
  try {
    if ((await assertRoleOwned(sql, slug, role)) === 'absent') return;
    await sql.unsafe(`alter role "${role}" nologin password null`);
    // Sessions whose login was this role (a session of the other login role acts as the owner
    // but logged in as itself); waits up to 5 s for each to end.
    await sql`grant ${sql(role)} to current_user`;
    await sql`select pg_terminate_backend(pid, 5000) from pg_stat_activity where usename = ${role} and pid <> pg_backend_pid()`;
  } catch (err) {
    throw postgresError(action, err);
  }
}

export function createTenantDatabaseActivities({ tenantDb: sql }: Pick<ActivityDeps, 'tenantDb'>) {
  return {
    /**
     * Writes `mark` as the comment of the instance's database (a move's: workflows/move.ts), so the
     * worker of another cluster can tell whether it reaches this very database (readTenantDatabaseMark).
     */
    async markTenantDatabase(slug: string, mark: string): Promise<void> {
      const name = tenantName(slug);
      const action = `mark Postgres database ${name}`;
      try {
        // COMMENT ON DATABASE takes its owner's rights: the instance's role.
        await sql`grant ${sql(databaseRoleFor(slug))} to current_user`;
        await sql.unsafe(`comment on database "${name}" is ${quoteLiteral(mark)}`);
      } catch (err) {
        throw postgresError(action, err);
      }
    },

    /** The comment of the instance's database in this worker's tenant Postgres; null when it has none or there is no such database. */
    async readTenantDatabaseMark(slug: string): Promise<string | null> {
      const name = tenantName(slug);
      try {
        const [row] = await sql<{ mark: string | null }[]>`
          select shobj_description(oid, 'pg_database') as mark from pg_database where datname = ${name}`;
        return row?.mark ?? null;
      } catch (err) {
        throw postgresError(`read the mark of Postgres database ${name}`, err);
      }
    },

    /**
     * Role `tenant_<slug>` (LOGIN, the plan's connection limit, member of tenantRoleGroup;
     * password set later by writeAppSecret) owning database `tenant_<slug>`, which only that role
     * may connect to. Create-if-absent, and the limit and grants are set again on every run, so a
     * plan change or a drifted role is put right; safe to repeat.
     */
    async ensureTenantDatabase(slug: string, limits: TenantDatabaseLimits): Promise<void> {
      const name = tenantName(slug);
      const role = databaseRoleFor(slug);
      const connectionLimit = connectionLimitOf(limits);
      let step = `create Postgres role ${tenantRoleGroup}`;
      try {
        await ensureRoleGroup(sql);

        step = `create Postgres role ${role}`;
        await ensureTenantRole(sql, slug, role);
        step = `add Postgres role ${role} to ${tenantRoleGroup}`;
        await sql`grant ${sql(tenantRoleGroup)} to ${sql(role)}`;
        step = `let Postgres role ${role} log in with at most ${connectionLimit} connections`;
        const logins = await existingLoginRoles(sql, slug);
        if (logins.length === 0) await sql.unsafe(`alter role "${role}" login connection limit ${connectionLimit}`);
        else {
          // The app logs in as a login role (a rotation made them): the limit is theirs, each, and
          // whether the owner may log in is the rotation's business.
          await sql.unsafe(`alter role "${role}" connection limit ${connectionLimit}`);
          for (const login of logins) await sql.unsafe(`alter role "${login}" connection limit ${connectionLimit}`);
        }
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
            if (!madeMeanwhile(err, '42P04')) throw err;
          }
        }
        const ownerNow = await databaseOwner(sql, name);
        if (ownerNow !== role) throw notOwned(`Postgres database ${name}`, `it is owned by ${ownerNow ?? 'nobody'}, not ${role}`);

        // New databases grant CONNECT to PUBLIC; without this revoke every tenant role could
        // open every other tenant's database on a server without the group's pg_hba.conf rules.
        step = `restrict connections to database ${name}`;
        await sql`revoke connect, temporary on database ${sql(name)} from public`;
        await sql`grant connect, temporary on database ${sql(name)} to ${sql(role)}`;
      } catch (err) {
        throw postgresError(step, err);
      }
    },

    /** Drops the database (closing its sessions), the login roles and the owner role. Absent = done. */
    async dropTenantDatabase(slug: string): Promise<void> {
      const name = tenantName(slug);
      const role = databaseRoleFor(slug);
      let step = `drop Postgres database ${name}`;
      try {
        const roleState = await assertRoleOwned(sql, slug, role);
        const logins = await existingLoginRoles(sql, slug);
        const owner = await databaseOwner(sql, name);
        if (owner !== undefined) {
          if (owner !== role || roleState !== 'ours') {
            throw notOwned(`Postgres database ${name}`, `it is owned by ${owner}, which is not Shipyard's role ${role}`);
          }
          // FORCE terminates the app's open sessions first (those of the login roles too, which
          // takes membership in them); without it the drop fails while any replica still holds a connection.
          for (const login of logins) await sql`grant ${sql(login)} to current_user`;
          await sql`drop database if exists ${sql(name)} with (force)`;
        }
        for (const login of logins) {
          // They own nothing (their sessions act as the owner role) but may hold privileges.
          step = `drop Postgres role ${login}`;
          await sql`grant ${sql(login)} to current_user`;
          await sql`drop owned by ${sql(login)}`;
          await sql`drop role if exists ${sql(login)}`;
        }
        if (roleState === 'ours') {
          // Objects the role owns (or privileges it holds) outside its database block DROP ROLE.
          // DROP OWNED reaches only the database this connection is in, which is the only other
          // database a tenant role's objects can be in: it can log into nothing else. It needs
          // membership in the role, which a run of ensureTenantDatabase cut short may not have given.
          step = `drop what Postgres role ${role} owns`;
          await sql`grant ${sql(role)} to current_user`;
          await sql`drop owned by ${sql(role)}`;
          step = `drop Postgres role ${role}`;
          await sql`drop role if exists ${sql(role)}`;
        }
      } catch (err) {
        throw postgresError(step, err);
      }
    },
  };
}
