// Tenant databases against the testbed's real Postgres, as the non-superuser tenant admin role.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantDatabaseActivities } from '../../activities/tenant-database';
import { failure, testbedDeps, uniqueSlug } from './testbed-deps';

const deps = testbedDeps();
const { ensureTenantDatabase, dropTenantDatabase } = createTenantDatabaseActivities(deps);
const sql = deps.tenantDb;
const slug = uniqueSlug('db');
const name = `tenant_${slug.replaceAll('-', '_')}`;

async function describeDatabase() {
  return sql<{ owner: string; acl: string | null }[]>`
    select r.rolname as owner, d.datacl::text as acl
    from pg_database d join pg_roles r on r.oid = d.datdba where d.datname = ${name}`;
}

beforeAll(async () => {
  await dropTenantDatabase(slug);
});

afterAll(async () => {
  await dropTenantDatabase(slug);
  await sql.end();
});

describe('tenant database', () => {
  it('creates role and database once, however often it runs', async () => {
    await ensureTenantDatabase(slug);
    const first = await describeDatabase();
    await ensureTenantDatabase(slug);
    const second = await describeDatabase();

    expect(first).toHaveLength(1);
    expect(second).toEqual(first);
    expect(first[0]!.owner).toBe(name);
    // PUBLIC appears in an ACL as an entry with an empty grantee ("=c/…"); it must hold no CONNECT.
    const acl = first[0]!.acl ?? '';
    expect(acl).not.toMatch(/(^|[{,])=[^,}]*c/);
    expect(acl).toContain(`${name}=`);
    const roles = await sql`select rolcanlogin from pg_roles where rolname = ${name}`;
    expect(roles).toEqual([{ rolcanlogin: true }]);
  });

  it('drops database and role, and dropping what is absent is done', async () => {
    await ensureTenantDatabase(slug);
    await dropTenantDatabase(slug);
    expect(await describeDatabase()).toEqual([]);
    expect(await sql`select 1 from pg_roles where rolname = ${name}`).toEqual([]);
    await dropTenantDatabase(slug);
  });

  it('refuses a role of the same name that Shipyard did not make', async () => {
    const foreign = uniqueSlug('db');
    const foreignName = `tenant_${foreign.replaceAll('-', '_')}`;
    await sql`create role ${sql(foreignName)} nologin`;
    try {
      expect(await failure(ensureTenantDatabase(foreign), 'NotOwned')).toContain(foreignName);
      await failure(dropTenantDatabase(foreign), 'NotOwned');
      expect(await sql`select 1 from pg_roles where rolname = ${foreignName}`).toHaveLength(1);
    } finally {
      await sql`drop role if exists ${sql(foreignName)}`;
    }
  });
});
