// Tenant databases against the testbed's real Postgres, as the non-superuser tenant admin role,
// and what a tenant role can then do with its password: log into its own database, and nowhere else.
import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantDatabaseActivities, scramSha256Verifier, setTenantRolePassword, tenantRoleGroup } from '../../activities/tenant-database';
import { tenantDatabaseUrl } from '../../activities/manifests';
import { failure, testbedDeps, uniqueSlug } from './testbed-deps';

const deps = testbedDeps();
const { ensureTenantDatabase, dropTenantDatabase } = createTenantDatabaseActivities(deps);
const sql = deps.tenantDb;
const limits = { connectionLimit: 3 };
const nameOf = (slug: string) => `tenant_${slug.replaceAll('-', '_')}`;
const slug = uniqueSlug('db');
const name = nameOf(slug);
const neighbour = uniqueSlug('db');
const racer = uniqueSlug('db');
const created = [slug, neighbour, racer];

async function describeDatabase() {
  return sql<{ owner: string; acl: string | null }[]>`
    select r.rolname as owner, d.datacl::text as acl
    from pg_database d join pg_roles r on r.oid = d.datdba where d.datname = ${name}`;
}

/** The connection string the app gets, pointed at `database` (its own unless told otherwise). */
function tenantUrl(tenant: string, password: string, database = nameOf(tenant)): string {
  return tenantDatabaseUrl(deps.config.tenantDatabaseUrl, database, nameOf(tenant), password);
}

/** Logs in and returns who and where the session is, or rejects with the server's refusal. */
async function login(url: string): Promise<{ db: string; usr: string }> {
  const client = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => undefined });
  try {
    const [row] = await client<{ db: string; usr: string }[]>`select current_database() as db, current_user as usr`;
    return row!;
  } finally {
    await client.end({ timeout: 5 });
  }
}

const newPassword = () => randomBytes(24).toString('base64url');

beforeAll(async () => {
  for (const s of created) await dropTenantDatabase(s);
});

afterAll(async () => {
  for (const s of created) await dropTenantDatabase(s);
  await sql.end();
});

describe('tenant database', () => {
  it('creates role and database once, however often it runs', async () => {
    await ensureTenantDatabase(slug, limits);
    const first = await describeDatabase();
    await ensureTenantDatabase(slug, limits);
    const second = await describeDatabase();

    expect(first).toHaveLength(1);
    expect(second).toEqual(first);
    expect(first[0]!.owner).toBe(name);
    // PUBLIC appears in an ACL as an entry with an empty grantee ("=c/…"); it must hold no CONNECT.
    const acl = first[0]!.acl ?? '';
    expect(acl).not.toMatch(/(^|[{,])=[^,}]*c/);
    expect(acl).toContain(`${name}=`);
    const roles = await sql`select rolcanlogin, rolconnlimit from pg_roles where rolname = ${name}`;
    expect(roles).toEqual([{ rolcanlogin: true, rolconnlimit: 3 }]);
    const groups = await sql`
      select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid join pg_roles r on r.oid = m.member
      where r.rolname = ${name}`;
    expect(groups.map((g) => g.rolname)).toEqual([tenantRoleGroup]);
  });

  it('runs at once with itself: no run fails for good, and a retry finds one role and one database', async () => {
    // A create that loses to another run of the same name ("already exists", or a unique violation
    // on the system catalogue when both insert at once) means the other run made it; two updates
    // of one role at once ("tuple concurrently updated") are retried by Temporal.
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => ensureTenantDatabase(racer, limits)));
    const permanentFailures = results.flatMap((r) => (r.status === 'rejected' && r.reason instanceof ApplicationFailure ? [r.reason.message] : []));
    expect(permanentFailures).toEqual([]);
    await ensureTenantDatabase(racer, limits);
    expect(await sql`select 1 from pg_database where datname = ${nameOf(racer)}`).toHaveLength(1);
    expect(await sql`select rolcanlogin from pg_roles where rolname = ${nameOf(racer)}`).toEqual([{ rolcanlogin: true }]);
  });

  it('logs the tenant role into its own database only: not postgres, the catalogue, or a neighbour', async () => {
    await ensureTenantDatabase(slug, limits);
    await ensureTenantDatabase(neighbour, limits);
    const password = newPassword();
    await setTenantRolePassword(sql, slug, password);
    await setTenantRolePassword(sql, neighbour, newPassword());

    expect(await login(tenantUrl(slug, password))).toEqual({ db: name, usr: name });

    const catalogue = decodeURIComponent(new URL(deps.config.databaseUrl).pathname.slice(1));
    const admins = decodeURIComponent(new URL(deps.config.tenantDatabaseUrl).pathname.slice(1));
    for (const elsewhere of ['postgres', 'template1', catalogue, admins, nameOf(neighbour)]) {
      // pg_hba.conf refuses the login (28000); a server without those rules still refuses
      // CONNECT on every database but the tenant's own (42501).
      await expect(login(tenantUrl(slug, password, elsewhere)), elsewhere).rejects.toMatchObject({
        code: expect.stringMatching(/^(28000|42501)$/),
      });
    }

    // A database someone made later and left open to PUBLIC: only pg_hba.conf stands in the way.
    const open = `open_${name}`;
    await sql`create database ${sql(open)}`;
    try {
      await expect(login(tenantUrl(slug, password, open))).rejects.toMatchObject({ code: '28000' });
    } finally {
      await sql`drop database if exists ${sql(open)}`;
    }
  });

  it("holds the tenant role to the plan's connection limit, and a new plan's limit on the next run", async () => {
    await ensureTenantDatabase(slug, { connectionLimit: 2 });
    const password = newPassword();
    await setTenantRolePassword(sql, slug, password);
    const app = postgres(tenantUrl(slug, password), { max: 3, connect_timeout: 5, onnotice: () => undefined });
    try {
      // Two sessions held open at once; a third is refused by the server.
      const [a, b] = await Promise.all([app.reserve(), app.reserve()]);
      await expect(app.reserve()).rejects.toMatchObject({ code: '53300' });
      a.release();
      b.release();
    } finally {
      await app.end({ timeout: 5 });
    }

    await ensureTenantDatabase(slug, { connectionLimit: 5 });
    expect(await sql`select rolconnlimit from pg_roles where rolname = ${name}`).toEqual([{ rolconnlimit: 5 }]);
    await failure(ensureTenantDatabase(slug, { connectionLimit: 0 }), 'InvalidSpec');
  });

  it('sends Postgres a SCRAM verifier, never the password, and the password logs in', async () => {
    await ensureTenantDatabase(slug, limits);
    const statements: string[] = [];
    const watched = postgres(deps.config.tenantDatabaseUrl, {
      max: 1,
      onnotice: () => undefined,
      debug: (_connection, query, parameters) => statements.push(query, ...parameters.map(String)),
    });
    const password = newPassword();
    try {
      await setTenantRolePassword(watched, slug, password);
      await setTenantRolePassword(watched, slug, password);
    } finally {
      await watched.end();
    }
    expect(statements.join('\n')).not.toContain(password);
    expect(statements.filter((s) => s.includes("password 'SCRAM-SHA-256$4096:"))).toHaveLength(2);
    expect(await login(tenantUrl(slug, password))).toEqual({ db: name, usr: name });
  });

  it('computes the verifier Postgres itself stores', () => {
    // Made by a Postgres 15 server for `ALTER ROLE … PASSWORD 'pencil'`, read back from pg_authid.
    const salt = Buffer.from('QAg32JziZU27CPQe7j8mNg==', 'base64');
    expect(scramSha256Verifier('pencil', salt)).toBe(
      'SCRAM-SHA-256$4096:QAg32JziZU27CPQe7j8mNg==$Z+RiUPZAWyyTyF+/8GT2JI6QaV3zm5YgWiXc6hO7xKw=:txw5b+6VKe9UNPPPXC9L7Z/BqoQIHzVYzL7hY8PmiUA=',
    );
  });

  it('drops a role that owns objects in its database and elsewhere', async () => {
    await ensureTenantDatabase(slug, limits);
    const password = newPassword();
    await setTenantRolePassword(sql, slug, password);
    const app = postgres(tenantUrl(slug, password), { max: 1, onnotice: () => undefined });
    try {
      await app`create table notes (body text)`;
    } finally {
      await app.end();
    }
    // In the admin's own database: a table the tenant role owns and a privilege granted to it.
    const owned = `owned_by_${name}`;
    const shared = `shared_with_${name}`;
    await sql`grant create on schema public to ${sql(name)}`;
    await sql`create table ${sql(owned)} (id int)`;
    await sql`alter table ${sql(owned)} owner to ${sql(name)}`;
    await sql`create table ${sql(shared)} (id int)`;
    await sql`grant select on ${sql(shared)} to ${sql(name)}`;
    try {
      await dropTenantDatabase(slug);
      expect(await describeDatabase()).toEqual([]);
      expect(await sql`select 1 from pg_roles where rolname = ${name}`).toEqual([]);
      expect(await sql`select 1 from pg_class where relname = ${owned}`).toEqual([]);
      await dropTenantDatabase(slug);
    } finally {
      await sql`drop table if exists ${sql(owned)}`;
      await sql`drop table if exists ${sql(shared)}`;
    }
  });

  it('drops database and role, and dropping what is absent is done', async () => {
    await ensureTenantDatabase(slug, limits);
    await dropTenantDatabase(slug);
    expect(await describeDatabase()).toEqual([]);
    expect(await sql`select 1 from pg_roles where rolname = ${name}`).toEqual([]);
    await dropTenantDatabase(slug);
  });

  it('refuses a role of the same name that Shipyard did not make', async () => {
    const foreign = uniqueSlug('db');
    const foreignName = nameOf(foreign);
    await sql`create role ${sql(foreignName)} nologin`;
    try {
      expect(await failure(ensureTenantDatabase(foreign, limits), 'NotOwned')).toContain(foreignName);
      await failure(dropTenantDatabase(foreign), 'NotOwned');
      expect(await sql`select 1 from pg_roles where rolname = ${foreignName}`).toHaveLength(1);
    } finally {
      await sql`drop role if exists ${sql(foreignName)}`;
    }
  });
});
