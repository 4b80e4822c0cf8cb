// `npm run histories:record`: records one workflow history per operation kind and outcome, with
// stub activities, on the testbed's Temporal (needs `npm run infra:up`). The replay test
// (test/unit/replay.test.ts) runs the current workflow code against these files, so a change that
// would break runs in flight fails CI. Re-record only when the old histories no longer matter
// (no run of the old code can still be in flight) — otherwise guard the change with `patched()`.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { InstanceStatus, Plan } from '../../domain/instance';
import type { RolloutInput } from '../../domain/rollouts';
import { readEnvFile } from '../../testbed/index';
import { loadConfig } from '../../domain/config';
import { temporalCli } from '../../testbed/components/temporal';
import { createWorker } from '../../worker/index';
import { activityNames } from '../support/activity-names';
import { noBackups } from '../support/catalogue-rows';

const historiesDir = join(import.meta.dirname, 'histories');
// Recorded in clear: the files are committed and replayed anywhere, without Shipyard's keys
// (stub activities, so they hold no customer data; replay checks determinism, not payloads).
const config = loadConfig({
  ...readEnvFile(),
  ...process.env,
  SHIPYARD_TASK_QUEUE: `record-${Date.now()}`,
  SHIPYARD_ENCRYPTION: 'off',
  SHIPYARD_ENCRYPTION_KEYS: '',
});
const plan: Plan = { name: 'starter', cpu: '1', memory: '2Gi', pods: 10, replicas: 1, pricePerHourCents: 5, suspendedPricePerHourCents: 1, dbConnections: 5, ...noBackups };

const fails = () => Promise.reject(ApplicationFailure.nonRetryable('recorded failure', 'Injected'));
const defaults: Record<string, (...args: any[]) => Promise<unknown>> = {
  readWorkload: async () => ({ version: '1.0.0', replicas: 1 }),
  reconcileRunningOperations: async () => ({ checked: 0, settled: 0, unstuck: 0 }),
  sampleStorage: async () => 1,
  hoursToMeter: async () => ({ hours: ['2026-01-01T00:00:00.000Z', '2026-01-01T01:00:00.000Z'], more: false }),
  meterHour: async () => 2,
  ownersToInvoice: async () => [{ owner: 'owner@example.com', account: 'a1b2c3d4e5f6a7b8c9d0' }],
  draftInvoice: async () => 'inv_recorded',
  issueInvoice: async () => ({ number: 'INV-202601-0001' }),
  beginBackup: async () => ({ backupId: 'bak_recorded' }),
  takeBackup: async () => ({ sizeBytes: 1024 }),
  restoreConfiguration: async () => ({ version: '1.0.0' }),
};

const recordedBackup = { backupId: 'bak_recorded', instanceId: 'ins_recorded', parts: [] };
/** SHIPYARD_TLS_MODE=wildcard: the provision ensures and awaits the shared certificate instead of one of its own. */
const wildcardSettings = { rolloutTimeoutSeconds: 30, unschedulableGraceSeconds: 30, tlsMode: 'wildcard' };

interface Scenario {
  name: string;
  workflowType: string;
  fromStatus?: InstanceStatus;
  version?: string;
  activities?: Record<string, (...args: any[]) => Promise<unknown>>;
  noInput?: boolean;
  /** The whole input, for workflows that are not operations on an instance. */
  input?: object;
  /** Fields of its kind's input beyond the common ones. */
  extra?: object;
}

const scenarios: Scenario[] = [
  { name: 'provision-succeeded', workflowType: 'provisionInstance', fromStatus: 'provisioning' },
  { name: 'provision-failed-compensated', workflowType: 'provisionInstance', fromStatus: 'provisioning', activities: { upsertDnsRecord: fails } },
  { name: 'upgrade-succeeded', workflowType: 'upgradeInstance', fromStatus: 'ready', version: '2.0.0' },
  { name: 'upgrade-rolled-back', workflowType: 'upgradeInstance', fromStatus: 'ready', version: '2.0.0', activities: { waitForRollout: onlyFirstFails() } },
  { name: 'upgrade-no-workload', workflowType: 'upgradeInstance', fromStatus: 'failed', version: '2.0.0', activities: { readWorkload: async () => null } },
  { name: 'suspend-succeeded', workflowType: 'suspendInstance', fromStatus: 'ready' },
  { name: 'suspend-failed', workflowType: 'suspendInstance', fromStatus: 'ready', activities: { waitForRollout: fails } },
  { name: 'resume-succeeded', workflowType: 'resumeInstance', fromStatus: 'suspended' },
  { name: 'teardown-succeeded', workflowType: 'teardownInstance', fromStatus: 'ready' },
  { name: 'teardown-failed', workflowType: 'teardownInstance', fromStatus: 'ready', activities: { deleteNamespace: fails } },
  { name: 'cleanup-succeeded', workflowType: 'cleanupInstance', fromStatus: 'failed' },
  { name: 'claim-refused', workflowType: 'suspendInstance', fromStatus: 'ready', activities: { claimInstance: () => Promise.reject(ApplicationFailure.nonRetryable('instance moved', 'InstanceMoved')) } },
  { name: 'reconcile', workflowType: 'reconcileOperations', noInput: true },
  { name: 'change-plan-succeeded', workflowType: 'changeInstancePlan', fromStatus: 'ready' },
  { name: 'change-plan-rolled-back', workflowType: 'changeInstancePlan', fromStatus: 'ready', activities: { waitForRollout: onlyFirstFails() } },
  { name: 'change-plan-no-capacity', workflowType: 'changeInstancePlan', fromStatus: 'suspended', activities: { checkCapacity: fails } },
  { name: 'metering', workflowType: 'meterUsage', input: { cursor: 'recorder', hoursPerRun: 48 } },
  { name: 'invoicing-period', workflowType: 'invoicePeriod', input: { period: '2026-01', meteringCursor: 'recorder' } },
  { name: 'rollout-succeeded', workflowType: 'rolloutFleet', input: rolloutInput(10_000), activities: rolloutActivities() },
  // A threshold this low continues as new after the canary: the file is the run carrying the state.
  { name: 'rollout-continued-as-new', workflowType: 'rolloutFleet', input: rolloutInput(20), activities: rolloutActivities() },
  { name: 'rollout-by-region-succeeded', workflowType: 'rolloutFleet', input: rolloutByRegionInput(), activities: rolloutActivities() },
  { name: 'delete-purged-at-once', workflowType: 'teardownInstance', fromStatus: 'ready', extra: { graceSeconds: 0 } },
  { name: 'delete-grace-elapsed', workflowType: 'teardownInstance', fromStatus: 'ready', extra: { graceSeconds: 1 } },
  { name: 'delete-final-backup-failed', workflowType: 'teardownInstance', fromStatus: 'ready', extra: { graceSeconds: 0 }, activities: { takeBackup: fails } },
  { name: 'backup-succeeded', workflowType: 'backupInstance', fromStatus: 'ready', extra: { backupKind: 'manual' } },
  { name: 'backup-failed', workflowType: 'backupInstance', fromStatus: 'suspended', extra: { backupKind: 'scheduled' }, activities: { takeBackup: fails } },
  { name: 'restore-succeeded', workflowType: 'restoreInstance', fromStatus: 'ready', extra: { backup: recordedBackup } },
  { name: 'restore-rolled-back', workflowType: 'restoreInstance', fromStatus: 'ready', extra: { backup: recordedBackup }, activities: { waitForRollout: onlyFirstFails() } },
  { name: 'clone-succeeded', workflowType: 'provisionInstance', fromStatus: 'provisioning', extra: { fromBackup: recordedBackup } },
  { name: 'provision-wildcard-succeeded', workflowType: 'provisionInstance', fromStatus: 'provisioning', extra: { settings: wildcardSettings } },
  { name: 'provision-wildcard-failed-compensated', workflowType: 'provisionInstance', fromStatus: 'provisioning', extra: { settings: wildcardSettings }, activities: { waitForRollout: fails } },
  { name: 'backup-sweep', workflowType: 'backupSweep', input: { parallelism: 2 }, activities: backupSweepActivities() },
  { name: 'invoicing-owner-nothing-new', workflowType: 'invoiceOwner', input: { owner: 'owner@example.com', period: '2026-01' }, activities: { draftInvoice: async () => null } },
  { name: 'rotate-credentials-succeeded', workflowType: 'rotateCredentials', fromStatus: 'ready', activities: rotationActivities() },
  { name: 'rotate-credentials-rolled-back', workflowType: 'rotateCredentials', fromStatus: 'ready', activities: { ...rotationActivities(), waitForRollout: onlyFirstFails() } },
  { name: 'credential-rotation-sweep', workflowType: 'credentialRotationSweep', input: { olderThanDays: 30, parallelism: 2 }, activities: rotationSweepActivities() },
];

// Only these are recorded when given (`npm run histories:record -- change-plan-succeeded metering`),
// so adding a workflow does not re-record the histories of the ones before it.
const only = process.argv.slice(2);

function rolloutInput(historyThreshold: number): RolloutInput {
  return {
    id: 'recorded',
    version: '2.0.0',
    selector: {},
    strategy: { canary: 1, waves: [50, 100], maxParallel: 2, failureBudget: 1, pauseAfterCanary: false, waitBetweenWavesSeconds: 0 },
    actor: 'recorder',
    historyThreshold,
    busyRetries: 2,
    busyRetrySeconds: 1,
  };
}

/** The same fleet waved by region: eu (a, b), then us (c, d), each region its canary and one wave. */
function rolloutByRegionInput(): RolloutInput {
  const input = rolloutInput(10_000);
  return { ...input, selector: { regions: ['eu', 'us'] }, strategy: { ...input.strategy, waves: [100], waveBy: 'region', regions: ['eu', 'us'] } };
}

/** Four instances: one upgrades, one rolls back (within the budget), one is busy once, one upgrades. */
function rolloutActivities(): Scenario['activities'] {
  let busyOnce = true;
  return {
    selectRolloutTargets: async () => ['a', 'b', 'c', 'd'],
    selectRolloutTargetsByRegion: async () => ['a', 'b', 'c', 'd'].map((slug) => ({ slug, region: slug < 'c' ? 'eu' : 'us' })),
    upgradeForRollout: async (_id: string, slug: string) => {
      if (slug === 'b') return { status: 'rolled_back', operationId: `op_${slug}`, error: 'recorded rollback' };
      if (slug === 'c' && busyOnce) {
        busyOnce = false;
        return { status: 'busy', error: 'operation op_x (suspend) is running on instance c' };
      }
      return { status: 'succeeded', operationId: `op_${slug}` };
    },
  };
}

/** Three instances due on one page: one backed up, one failing, one busy; then retention and repair. */
function backupSweepActivities(): Scenario['activities'] {
  let pages = 0;
  return {
    backupSweepBegins: async () => '2026-01-01T00:00:00.000Z',
    instancesDueForBackup: async () => (pages++ === 0 ? ['a', 'b', 'c'].map((slug) => ({ id: `ins_${slug}`, slug })) : []),
    backupForSweep: async (_sweep: string, slug: string) =>
      slug === 'a'
        ? { status: 'succeeded', operationId: 'op_a' }
        : slug === 'b'
          ? { status: 'failed', operationId: 'op_b', error: 'recorded failure' }
          : { status: 'busy', error: 'operation op_x (upgrade) is running on instance c' },
    expireBackups: async () => 1,
    repairBackups: async () => 0,
  };
}

/** An instance that logs in as its owner role, before its first rotation. */
function rotationActivities(): Scenario['activities'] {
  return { readDatabaseLogin: async () => ({ current: 'tenant_rec', next: 'tenant_login_0123456789ab_a', restartMark: null }) };
}

/** Three instances due on one page: one rotated, one rolled back, one busy. */
function rotationSweepActivities(): Scenario['activities'] {
  let pages = 0;
  return {
    rotationSweepBegins: async () => '2026-01-01T00:00:00.000Z',
    instancesDueForRotation: async () => (pages++ === 0 ? ['a', 'b', 'c'].map((slug) => ({ id: `ins_${slug}`, slug })) : []),
    rotateCredentialsForSweep: async (_sweep: string, slug: string) =>
      slug === 'a'
        ? { status: 'succeeded', operationId: 'op_a' }
        : slug === 'b'
          ? { status: 'failed', operationId: 'op_b', error: 'recorded rollback' }
          : { status: 'busy', error: 'operation op_x (upgrade) is running on instance c' },
  };
}

function onlyFirstFails() {
  let calls = 0;
  return async () => {
    calls += 1;
    if (calls === 1) await fails();
  };
}


/** Every activity answers undefined unless the scenario or the defaults say otherwise. */
function stubs(overrides: Scenario['activities'] = {}) {
  return Object.fromEntries(activityNames.map((name) => [name, overrides[name] ?? defaults[name] ?? (async () => undefined)]));
}

Runtime.install({ logger: new DefaultLogger('WARN') });
const cli = await temporalCli();
const connection = await Connection.connect({ address: config.temporalAddress });
const client = new Client({ connection, namespace: config.temporalNamespace });
try {
  for (const scenario of scenarios.filter((s) => only.length === 0 || only.includes(s.name))) {
    const slug = `rec-${scenario.name}`;
    const input = {
      operationId: `op_${slug}`,
      instanceId: `ins_${slug}`,
      slug,
      actor: 'recorder',
      settings: { rolloutTimeoutSeconds: 30, unschedulableGraceSeconds: 30 },
      fromStatus: scenario.fromStatus,
      plan,
      newPlan: { ...plan, name: 'standard', cpu: '2', memory: '4Gi', replicas: 2, dbConnections: 10, ...noBackups },
      version: scenario.version ?? '1.0.0',
      ...scenario.extra,
    };
    const { worker, connection: workerConnection } = await createWorker(config, stubs(scenario.activities));
    try {
      const handle = await client.workflow.start(scenario.workflowType, {
        workflowId: `record:${scenario.name}:${Date.now()}`,
        taskQueue: config.taskQueue,
        args: scenario.noInput ? [] : [scenario.input ?? input],
      });
      await worker.runUntil(handle.result().catch(() => undefined));
      const file = join(historiesDir, `${scenario.name}.json`);
      // The CLI's JSON is the form Temporal's tools (UI download, `temporal workflow show`) share.
      const { stdout } = await promisify(execFile)(cli, [
        'workflow', 'show', '--workflow-id', handle.workflowId, '--output', 'json',
        '--address', config.temporalAddress, '--namespace', config.temporalNamespace,
      ], { maxBuffer: 64 * 1024 * 1024 });
      writeFileSync(file, stdout);
      console.log(`recorded ${file}`);
    } finally {
      await workerConnection.close();
    }
  }
} finally {
  await connection.close();
}
