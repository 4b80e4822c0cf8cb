// The move workflow on the real Temporal server with stubbed activities, served by three workers as
// in a multi-cluster install (the central one and one per cluster, each on its own queue): which
// cluster each step runs in, the two ways the data goes (one tenant Postgres for both clusters, or
// one each), and the way back when the target fails before the DNS switch
// (test/exclusive/multi-cluster.test.ts runs a move for real).
import '../support/temporal-runtime';
import { ApplicationFailure } from '@temporalio/activity';
import { type Client, type Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterActivityNames } from '../../domain/cluster-activities';
import { clusterTaskQueue, type Placement } from '../../domain/clusters';
import type { Plan } from '../../domain/instance';
import type { MoveInput } from '../../domain/operation-kinds';
import { workflowIdFor } from '../../domain/operations';
import { connectTemporalClient } from '../../temporal/data-converter';
import { createWorker } from '../../worker/index';
import { prebuiltWorkflowBundle } from '../support/build';
import { noBackups } from '../support/catalogue-rows';
import { testConfig, uniqueSuffix } from '../support/config';

const plan: Plan = { name: 'starter', cpu: '1', memory: '2Gi', pods: 10, replicas: 1, pricePerHourCents: 5, suspendedPricePerHourCents: 1, dbConnections: 5, ...noBackups };
const config = testConfig({ SHIPYARD_TASK_QUEUE: `move-${uniqueSuffix()}` });
const place = (cluster: string): Placement => ({ cluster, taskQueue: clusterTaskQueue(config.taskQueue, cluster), ingressTarget: `ingress.${cluster}.test` });
const source = place('us');
const target = place('eu');
let connection: Connection;
let client: Client;

beforeAll(async () => {
  ({ client, connection } = await connectTemporalClient(config));
});
afterAll(async () => {
  await connection?.close();
});

const centralNames = ['claimInstance', 'closeOperation', 'markInstance', 'recordEvent', 'finishOperation', 'beginBackup', 'discardBackup', 'upsertDnsRecord', 'placeInstance'];
/** What the run's bookkeeping calls: left out of the call lists compared below. */
const bookkeeping = new Set(['claimInstance', 'closeOperation', 'recordEvent']);
type Call = [where: string, name: string, ...args: unknown[]];
type Behaviour = Record<string, (...args: any[]) => Promise<unknown>>;
const fails = () => Promise.reject(ApplicationFailure.nonRetryable('injected failure', 'Injected'));

/** Stand-ins for `names`, each call logged with where it ran; `behaviour` answers by `where:name`, then by name. */
function standIns(log: Call[], where: string, names: readonly string[], behaviour: Behaviour) {
  return Object.fromEntries(
    names.map((name) => [
      name,
      async (...args: unknown[]) => {
        log.push([where, name, ...args]);
        return (behaviour[`${where}:${name}`] ?? behaviour[name])?.(...args);
      },
    ]),
  );
}

async function move(options: { sharedDatabase: boolean; behaviour?: Behaviour }) {
  const slug = `mv-${uniqueSuffix()}`;
  const input: MoveInput = {
    operationId: `op_${slug}`,
    instanceId: `ins_${slug}`,
    slug,
    actor: 'test',
    settings: { rolloutTimeoutSeconds: 30, unschedulableGraceSeconds: 30, tlsMode: 'per-instance' },
    fromStatus: 'ready',
    placement: source,
    target,
    plan,
    version: '1.0.0',
  };
  const log: Call[] = [];
  const behaviour: Behaviour = {
    beginBackup: async () => ({ backupId: 'bak_premove' }),
    'us:takeBackup': async () => ({ sizeBytes: 1 }),
    'us:readDatabaseLogin': async () => ({ current: 'tenant_x', next: 'tenant_login_x_a', restartMark: null }),
    // The target's worker sees the mark the source's wrote when both reach one tenant Postgres.
    'eu:readTenantDatabaseMark': async () => (options.sharedDatabase ? `shipyard-move:${input.operationId}` : null),
    'eu:restoreConfiguration': async () => ({ version: '1.0.0' }),
    ...options.behaviour,
  };
  const started = await Promise.all([
    createWorker(config, standIns(log, 'central', centralNames, behaviour), { workflowBundle: prebuiltWorkflowBundle }),
    createWorker(config, standIns(log, 'us', clusterActivityNames, behaviour), { taskQueue: source.taskQueue, activitiesOnly: true }),
    createWorker(config, standIns(log, 'eu', clusterActivityNames, behaviour), { taskQueue: target.taskQueue, activitiesOnly: true }),
  ]);
  const [central, us, eu] = started.map((s) => s.worker);
  try {
    const run = async () => {
      const handle = await client.workflow.start('moveInstance', { workflowId: workflowIdFor(slug), taskQueue: config.taskQueue, args: [input] });
      return handle.result().catch(() => undefined);
    };
    await central!.runUntil(us!.runUntil(eu!.runUntil(run)));
  } finally {
    await Promise.all(started.map((s) => s.connection.close()));
  }
  const close = log.find(([, name]) => name === 'closeOperation')?.[2] as { instance?: { status: string }; result: { status: string; error?: string }; event: { message?: string } };
  return { slug, close, calls: log.filter(([, name]) => !bookkeeping.has(name)) };
}

const where = (calls: Call[]) => calls.map(([w, name]) => `${w} ${name}`);

describe('move', () => {
  it('within one tenant Postgres: builds the app in the target with a login of its own, switches DNS, then removes the source', async () => {
    const { slug, close, calls } = await move({ sharedDatabase: true });
    expect(close.result.status).toBe('succeeded');
    expect(close.event.message).toBe('moved from cluster us to cluster eu');
    expect(where(calls)).toEqual([
      'us markTenantDatabase', 'eu readTenantDatabaseMark', 'us readDatabaseLogin',
      'central beginBackup', 'us takeBackup',
      'eu applyNamespace', 'eu writeStandbyLogin', 'eu restoreConfiguration', 'eu applyWorkload', 'eu applyCertificate',
      'eu waitForCertificateReady', 'eu applyIngress', 'eu waitForRollout',
      'central upsertDnsRecord', 'central placeInstance',
      'us deleteIngress', 'us deleteCertificate', 'us deleteNamespace', 'eu disableDatabaseLogin',
    ]);
    expect(calls).toContainEqual(['eu', 'writeStandbyLogin', slug, { role: 'tenant_login_x_a', connectionLimit: 5 }]);
    expect(calls).toContainEqual(['central', 'upsertDnsRecord', slug, 'ingress.eu.test']);
    expect(calls).toContainEqual(['central', 'placeInstance', `ins_${slug}`, 'eu']);
    // The source's login goes last, from the target (whose app logs in as the other role).
    expect(calls.at(-1)).toEqual(['eu', 'disableDatabaseLogin', slug, 'tenant_x']);
  });

  it('with a tenant Postgres per cluster: stops the source, moves the data by the backup, and drops the source database at the end', async () => {
    const { close, calls } = await move({ sharedDatabase: false });
    expect(close.result.status).toBe('succeeded');
    expect(where(calls)).toEqual([
      'us markTenantDatabase', 'eu readTenantDatabaseMark',
      'us scaleWorkload', 'us waitForRollout',
      'central beginBackup', 'us takeBackup',
      'eu ensureTenantDatabase', 'eu restoreIntoSideDatabase', 'eu swapInRestoredDatabase', 'eu dropSideDatabases',
      'eu applyNamespace', 'eu restoreConfiguration', 'eu applyWorkload', 'eu applyCertificate',
      'eu waitForCertificateReady', 'eu applyIngress', 'eu waitForRollout',
      'central upsertDnsRecord', 'central placeInstance',
      'us deleteIngress', 'us deleteCertificate', 'us deleteNamespace', 'us dropTenantDatabase',
    ]);
  });

  it('a target that fails before the DNS switch: what was built there is removed, the source serves on, the instance stays ready', async () => {
    const { slug, close, calls } = await move({ sharedDatabase: true, behaviour: { 'eu:waitForRollout': fails } });
    expect(close.result.status).toBe('failed');
    expect(close.result.error).toContain('injected failure');
    expect(close.instance).toEqual({ status: 'ready' });
    expect(where(calls).slice(where(calls).indexOf('eu waitForRollout'))).toEqual([
      'eu waitForRollout',
      'eu deleteIngress', 'eu deleteCertificate', 'eu deleteWorkload',
      // The target's login, disabled from the source (whose app logs in as the other role).
      'us disableDatabaseLogin',
      'eu deleteNamespace',
      'central discardBackup',
    ]);
    expect(calls).toContainEqual(['us', 'disableDatabaseLogin', slug, 'tenant_login_x_a']);
    // DNS and the catalogue's placement were never touched; nothing in the source was removed.
    expect(where(calls).filter((c) => /upsertDnsRecord|placeInstance|us delete|dropTenantDatabase/.test(c))).toEqual([]);
  });
});
