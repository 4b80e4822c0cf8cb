import { describe, expect, it } from 'vitest';
import { instanceStatuses } from '../../domain/instance';
import { operationKinds, operationKindSpecs, shownStatus, startRefusal, statusWhileRunning } from '../../domain/operation-kinds';
import * as workflows from '../../workflows';

const acme = (status: (typeof instanceStatuses)[number], version = '1.0.0') => ({ slug: 'acme', status, version, plan: 'starter' });

describe('the operation table', () => {
  it('declares every operation kind, each run by a workflow the bundle exports', () => {
    expect(Object.keys(operationKindSpecs).sort()).toEqual([...operationKinds].sort());
    for (const spec of Object.values(operationKindSpecs)) expect(typeof workflows[spec.workflowType]).toBe('function');
  });

  it('says what an instance shows while each kind runs', () => {
    expect(statusWhileRunning).toMatchObject({ provision: 'provisioning', upgrade: 'upgrading', teardown: 'deleting', restore: 'restoring' });
  });

  it('lets a backup run while the instance keeps its status and serves', () => {
    expect(statusWhileRunning.backup).toBeNull();
    expect(shownStatus('ready', 'backup')).toBe('ready');
    expect(shownStatus('suspended', 'backup')).toBe('suspended');
    expect(shownStatus('ready', 'restore')).toBe('restoring');
    expect(startRefusal('backup', acme('deleting'), {})).toMatch(/backup starts only from ready or suspended/);
    expect(shownStatus('ready', 'rotate_credentials')).toBe('ready');
    expect(startRefusal('rotate_credentials', acme('suspended'), {})).toBeUndefined();
    expect(startRefusal('rotate_credentials', acme('failed'), {})).toMatch(/rotate_credentials starts only from ready or suspended/);
  });

  it('restores only a completed backup', () => {
    const backup = { backupId: 'bak_1', instanceId: 'ins_1', parts: [] };
    expect(startRefusal('restore', acme('ready'), { backup: { ...backup, status: 'running' } })).toBe('backup bak_1 is running; only a completed backup can be restored');
    expect(startRefusal('restore', acme('ready'), { backup: { ...backup, status: 'completed' } })).toBeUndefined();
  });

  it('refuses a start from a status the kind does not start from, naming both', () => {
    expect(startRefusal('resume', acme('ready'), {})).toBe('instance acme is ready; resume starts only from suspended');
    expect(startRefusal('upgrade', acme('suspended'), { version: '2.0.0' })).toMatch(/starts only from ready or failed/);
    expect(startRefusal('teardown', acme('deleted'), {})).toMatch(/is deleted/);
    expect(startRefusal('suspend', acme('ready'), {})).toBeUndefined();
  });

  it('refuses an upgrade to the version a ready instance already runs, but not a repair of a failed one', () => {
    expect(startRefusal('upgrade', acme('ready', '2.0.0'), { version: '2.0.0' })).toBe('instance acme already runs version 2.0.0');
    expect(startRefusal('upgrade', acme('failed', '2.0.0'), { version: '2.0.0' })).toBeUndefined();
  });

  it('moves a placed, ready instance to another cluster only', () => {
    const target = { cluster: 'eu-2', taskQueue: 'shipyard@eu-2', ingressTarget: 'ingress.eu-2.test' };
    expect(startRefusal('move', { ...acme('ready'), cluster: 'eu-1' }, { target })).toBeUndefined();
    expect(startRefusal('move', { ...acme('ready'), cluster: 'eu-2' }, { target })).toMatch(/already in cluster eu-2/);
    expect(startRefusal('move', { ...acme('ready'), cluster: null }, { target })).toMatch(/not placed in a cluster/);
    expect(startRefusal('move', { ...acme('suspended'), cluster: 'eu-1' }, { target })).toMatch(/move starts only from ready/);
    expect(shownStatus('ready', 'move')).toBe('ready');
  });

  it('lets teardown start from every status but deleted, so nothing can get stuck', () => {
    for (const status of instanceStatuses) expect(startRefusal('teardown', acme(status), {}) === undefined).toBe(status !== 'deleted');
  });

  it('leaves an abandoned run failed (a backup, a credential rotation or a move leaves its instance as it was), and cleans up after an abandoned provision only', () => {
    // An abandoned rotation leaves the app on a login that works (the old or the new one); the next rotation starts from the Secret.
    // An abandoned move leaves the instance served from the cluster the catalogue names.
    const keepStatus = ['backup', 'rotate_credentials', 'move'];
    for (const [kind, spec] of Object.entries(operationKindSpecs)) expect(spec.abandoned.status).toBe(keepStatus.includes(kind) ? null : 'failed');
    expect(Object.entries(operationKindSpecs).filter(([, s]) => 'cleanup' in s.abandoned && s.abandoned.cleanup).map(([k]) => k)).toEqual(['provision']);
  });
});
