// The API built in-process against the testbed's Postgres and Temporal, on a task queue no
// worker polls: operations start and stay running, which is what API tests need. Every run an
// API test starts is terminated in cleanup.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { build } from '../../api/app';
import { generateKey } from '../../api/auth';
import type { Config } from '../../domain/config';
import type { InstanceStatus } from '../../domain/instance';
import { workflowIdFor } from '../../domain/operations';
import type { Database } from '../../db/client';
import { connectCatalogue } from '../../db/client';
import { newId } from '../../db/ids';
import { markInstance } from '../../db/instances';
import { finishOperation } from '../../db/operations';
import { insertApiKey } from '../../db/api-keys';
import { migrateCatalogue } from '../../db/migrate';
import type { ApiRole } from '../../domain/api-keys';
import { connectTemporalClient } from '../../temporal/data-converter';
import { testConfig, testRateLimits, uniqueSuffix } from '../support/config';

export interface Harness {
  app: FastifyInstance;
  config: Config;
  db: Database;
  temporal: Client;
  keys: Record<ApiRole, string>;
  /** Injects a request as `role` (or with no Authorization header for `null`). */
  call(role: ApiRole | null, options: InjectOptions): Promise<LightMyRequestResponse>;
  /** A slug no other test or run uses. */
  slug(label?: string): string;
  /** Registers a slug the API derived, so cleanup terminates its workflow too. */
  track(slug: string): void;
  /** Terminates the instance's workflow run, as an operator would from the Temporal UI. */
  terminate(slug: string): Promise<void>;
  /**
   * A provisioned-looking instance (plan standard) in `status` with no operation running: created
   * through the API, its provision run terminated, then settled as the workflow would have.
   */
  settledInstance(status: InstanceStatus, version?: string): Promise<{ slug: string; id: string }>;
  close(): Promise<void>;
}

/** `overrides` are environment variables on top of the testbed's (e.g. the codec's auth mode). */
export async function startHarness(overrides: Record<string, string> = {}): Promise<Harness> {
  const config = testConfig({
    SHIPYARD_TASK_QUEUE: `api-test-${uniqueSuffix()}`,
    // The testbed exports one; the fallback keeps these tests whole without it.
    SHIPYARD_ADMIN_KEY: process.env.SHIPYARD_ADMIN_KEY ?? `sy_admin_${randomBytes(24).toString('base64url')}`,
    ...testRateLimits,
    ...overrides,
  });
  await migrateCatalogue(config.databaseUrl);
  const db = connectCatalogue(config.databaseUrl, { max: 4 });
  const { client: temporal, connection } = await connectTemporalClient(config);
  const app = await build({ config, db, temporal });

  const run = uniqueSuffix();
  const keys = {} as Record<ApiRole, string>;
  for (const role of ['admin', 'operator', 'viewer'] as const) {
    const secret = generateKey();
    await insertApiKey(db, { id: newId('key'), name: `test-${role}-${run}`, role, hash: secret.hash, prefix: secret.prefix });
    keys[role] = secret.key;
  }

  const slugs = new Set<string>();
  const terminate = async (slug: string) => {
    try {
      await temporal.workflow.getHandle(workflowIdFor(slug)).terminate('api test cleanup');
    } catch (err) {
      // Already closed (or never started): nothing to clean.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  };

  const call: Harness['call'] = (role, options) =>
    app.inject({
      ...options,
      headers: { ...(role ? { authorization: `Bearer ${keys[role]}` } : {}), ...options.headers },
    });
  const slug = (label = 't') => {
    const made = `${label}-${uniqueSuffix()}${uniqueSuffix()}`;
    slugs.add(made);
    return made;
  };

  return {
    app,
    config,
    db,
    temporal,
    keys,
    call,
    slug,
    track: (slug) => void slugs.add(slug),
    terminate,
    async settledInstance(status, version = '1.0.0') {
      const made = slug('settled');
      const res = await call('operator', {
        method: 'POST',
        url: '/v1/instances',
        payload: { name: 'Settled', slug: made, plan: 'standard', ownerEmail: 'owner@example.com', version },
      });
      if (res.statusCode !== 202) throw new Error(`creating ${made} answered ${res.statusCode}: ${res.body}`);
      await terminate(made);
      const { instance, operation } = res.json();
      // Stand-in for what the provision workflow would have written.
      await markInstance(db, instance.id, { status });
      await finishOperation(db, operation.id, { status: 'succeeded', steps: [] });
      return { slug: made, id: instance.id as string };
    },
    async close() {
      await Promise.all([...slugs].map(terminate));
      await app.close();
      await connection.close();
      await db.$client.end();
    },
  };
}
