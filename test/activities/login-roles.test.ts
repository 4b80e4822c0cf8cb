// The login roles a credential rotation moves an instance's app to (activities/tenant-database.ts),
// against the testbed's real Postgres and its pg_hba.conf (`samerole`): a login role acts as the
// owner role in its instance's database, gets in nowhere else, stops at once when disabled, and
// goes with the database.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenantDatabaseActivities,
  disableLogin,
  enableLoginRole,
  loginRolesFor,
  setTenantRolePassword,
  tenantRoleGroup,
} from '../../activities/tenant-database';
import { tenantDatabaseUrl } from '../../activities/manifests';
import { failure, testbedDeps, uniqueSlug } from './testbed-deps';

const deps = testbedDeps();
const { ensureTenantDatabase, dropTenantDatabase } = createTenantDatabaseActivities(deps);
const sql = deps.tenantDb;
const nameOf = (slug: string) => `tenant_${slug.replaceAll('-', '_')}`;
const slug = uniqueSlug('login');
const neighbour = uniqueSlug('login');
const created = [slug, neighbour];
const newPassword = () => randomBytes(24).toString('base64url');

function url(role: string, password: string, database: string): string {
  return tenantDatabaseUrl(deps.config.tenantDatabaseUrl, database, role, password);
}

async function login(connection: string): Promise<{ db: string; usr: string; sess: string }> {
  const client = postgres(connection, { max: 1, connect_timeout: 5, onnotice: () => undefined });
  try {
    const [row] = await client<{ db: string; usr: string; sess: string }[]>`
      select current_database() as db, current_user as usr, session_user as sess`;
    return row!;
  } finally {
    await client.end({ timeout: 5 });
  }
}

beforeAll(async () => {
  for (const s of created) await dropTenantDatabase(s);
});

afterAll(async () => {
  for (const s of created) await dropTenantDatabase(s);
  await sql.end();
});

describe('login roles', () => {
  it('are named from the slug, within 63 characters, two per instance', () => {
    const [a, b] = loginRolesFor(slug);
    expect(a).toMatch(/^tenant_login_[0-9a-f]{12}_a$/);
    expect(b).toBe(a.replace(/_a$/, '_b'));
    expect(loginRolesFor(`x${'y'.repeat(55)}`)[0]!.length).toBeLessThanOrEqual(63);
  });

  it('log into their instance acting as its owner role, and into nothing else', async () => {
    await ensureTenantDatabase(slug, { connectionLimit: 3 });
    await ensureTenantDatabase(neighbour, { connectionLimit: 3 });
    await setTenantRolePassword(sql, neighbour, newPassword());
    const [a] = loginRolesFor(slug);
    const password = newPassword();
    await enableLoginRole(sql, slug, a, password, 3);

    expect(await login(url(a, password, nameOf(slug)))).toEqual({ db: nameOf(slug), usr: nameOf(slug), sess: a });
    // What the app makes is the owner's, whichever login made it.
    const app = postgres(url(a, password, nameOf(slug)), { max: 1, onnotice: () => undefined });
    try {
      await app`create table notes (body text)`;
      const [owner] = await app<{ owner: string }[]>`select tableowner as owner from pg_tables where tablename = 'notes'`;
      expect(owner!.owner).toBe(nameOf(slug));
    } finally {
      await app.end({ timeout: 5 });
    }

    const catalogue = decodeURIComponent(new URL(deps.config.databaseUrl).pathname.slice(1));
    const admins = decodeURIComponent(new URL(deps.config.tenantDatabaseUrl).pathname.slice(1));
    for (const elsewhere of ['postgres', 'template1', catalogue, admins, nameOf(neighbour), tenantRoleGroup]) {
      await expect(login(url(a, password, elsewhere)), elsewhere).rejects.toMatchObject({ code: expect.stringMatching(/^(28000|42501|3D000)$/) });
    }
    // A database left open to PUBLIC: pg_hba.conf (samerole) alone keeps the login role out.
    const open = `open_${nameOf(slug)}`;
    await sql`create database ${sql(open)}`;
    try {
      await expect(login(url(a, password, open))).rejects.toMatchObject({ code: '28000' });
    } finally {
      await sql`drop database if exists ${sql(open)}`;
    }
    const [row] = await sql`select rolcanlogin, rolconnlimit, shobj_description(oid, 'pg_authid') as comment from pg_roles where rolname = ${a}`;
    expect(row).toEqual({ rolcanlogin: true, rolconnlimit: 3, comment: `managed-by=shipyard instance=${slug}` });
  });

  it('stop at once when disabled, their open sessions ended; the other login goes on', async () => {
    const [a, b] = loginRolesFor(slug);
    const passwordA = newPassword();
    const passwordB = newPassword();
    await enableLoginRole(sql, slug, a, passwordA, 3);
    await enableLoginRole(sql, slug, b, passwordB, 3);
    const held = postgres(url(a, passwordA, nameOf(slug)), { max: 1, onnotice: () => undefined });
    try {
      await held`select 1`;
      await disableLogin(sql, slug, a);
      await expect(held`select 1`).rejects.toThrow();
    } finally {
      await held.end({ timeout: 1 }).catch(() => undefined);
    }
    await expect(login(url(a, passwordA, nameOf(slug)))).rejects.toMatchObject({ code: expect.stringMatching(/^28/) });
    expect((await login(url(b, passwordB, nameOf(slug)))).sess).toBe(b);
    // Disabling an absent login, or again, is done.
    await disableLogin(sql, slug, a);
  });

  it("take the plan's connection limit from ensureTenantDatabase, which leaves the owner's login alone once they exist", async () => {
    await disableLogin(sql, slug, nameOf(slug));
    await ensureTenantDatabase(slug, { connectionLimit: 4 });
    const rows = await sql<{ rolname: string; rolcanlogin: boolean; rolconnlimit: number }[]>`
      select rolname, rolcanlogin, rolconnlimit from pg_roles where rolname in ${sql([nameOf(slug), ...loginRolesFor(slug)])} order by rolname`;
    const [a, b] = loginRolesFor(slug);
    expect(rows).toEqual(
      [
        { rolname: nameOf(slug), rolcanlogin: false, rolconnlimit: 4 },
        { rolname: a, rolcanlogin: false, rolconnlimit: 4 },
        { rolname: b, rolcanlogin: true, rolconnlimit: 4 },
      ].sort((x, y) => x.rolname.localeCompare(y.rolname)),
    );
  });

  it('refuse names that are not the instance’s, and go with the database', async () => {
    await failure(enableLoginRole(sql, slug, loginRolesFor(neighbour)[0], newPassword(), 3), 'InvalidSpec');
    await dropTenantDatabase(slug);
    const left = await sql`select rolname from pg_roles where rolname in ${sql([nameOf(slug), ...loginRolesFor(slug)])}`;
    expect(left).toEqual([]);
    await dropTenantDatabase(slug);
  });
});
