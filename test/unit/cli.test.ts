// The CLI's pure parts: tables, profiles and their file, exit codes, and reading step changes
// out of successive snapshots of an operation.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ShipyardProblem, ShipyardUnreachable, type Step } from '../../client/index';
import { exitCodeFor, exitCodes, errorMessage, UsageError, WorkFailed } from '../../cli/ops/exit-codes';
import { stepChanges, outcomeLine } from '../../cli/ops/operation-progress';
import { defaultOutput, formatDuration, formatList, formatTable } from '../../cli/ops/output';
import { configPath, readProfiles, resolveConnection, setProfile, writeProfiles } from '../../cli/ops/profiles';
import { countsText, progressBar, waveName } from '../../cli/ops/rollout-progress';

describe('tables', () => {
  const columns = [
    { header: 'slug', value: (r: { slug: string; plan?: string }) => r.slug },
    { header: 'plan', value: (r: { slug: string; plan?: string }) => r.plan },
  ];
  it('aligns columns under capitalised headers, blank for missing values, one line per row', () => {
    expect(formatTable([{ slug: 'acme', plan: 'starter' }, { slug: 'globex-corp' }, { slug: 'x', plan: 'two\nlines' }], columns)).toBe(
      ['SLUG         PLAN', 'acme         starter', 'globex-corp', 'x            two lines'].join('\n'),
    );
  });
  it('prints JSON lines for a list, and chooses a table on a terminal, JSON when piped', () => {
    expect(formatList([{ slug: 'a' }, { slug: 'b' }], 'json', columns)).toBe('{"slug":"a"}\n{"slug":"b"}');
    expect(formatList([{ slug: 'a' }, { slug: 'b' }], 'yaml', columns)).toBe('slug: a\n---\nslug: b');
    expect(defaultOutput(true)).toBe('table');
    expect(defaultOutput(false)).toBe('json');
  });
  it('says durations the way people read them', () => {
    expect([850, 12_340, 245_000, 7_380_000].map(formatDuration)).toEqual(['850ms', '12.3s', '4m05s', '2h03m']);
  });
});

describe('profiles', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('live in the XDG config directory, in a file only its owner can read', () => {
    dir = mkdtempSync(join(tmpdir(), 'profiles-'));
    expect(configPath({ XDG_CONFIG_HOME: dir, HOME: '/home/x' })).toBe(join(dir, 'shipyard', 'config.yaml'));
    expect(configPath({ HOME: '/home/x' })).toBe('/home/x/.config/shipyard/config.yaml');
    const path = configPath({ XDG_CONFIG_HOME: dir });
    const file = setProfile(setProfile({ profiles: {} }, 'prod', { url: 'https://prod.example', key: 'sy_prod' }), 'dev', { url: 'http://localhost:8080', key: 'sy_dev' });
    writeProfiles(path, file);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readProfiles(path)).toEqual({ current: 'prod', profiles: { prod: { url: 'https://prod.example', key: 'sy_prod' }, dev: { url: 'http://localhost:8080', key: 'sy_dev' } } });
  });

  it('--profile wins, then SHIPYARD_API_URL/KEY, then the current profile; nothing at all is a usage error', () => {
    const file = { current: 'prod', profiles: { prod: { url: 'https://prod.example', key: 'sy_prod' }, dev: { url: 'http://dev', key: 'sy_dev' } } };
    const env = { SHIPYARD_API_URL: 'http://env', SHIPYARD_API_KEY: 'sy_env' };
    expect(resolveConnection(env, file, 'dev')).toMatchObject({ url: 'http://dev', source: 'profile "dev"' });
    expect(resolveConnection(env, file)).toMatchObject({ url: 'http://env', key: 'sy_env' });
    expect(resolveConnection({}, file)).toMatchObject({ url: 'https://prod.example', source: 'profile "prod"' });
    expect(() => resolveConnection({}, { profiles: {} })).toThrow(UsageError);
    expect(() => resolveConnection({ SHIPYARD_API_URL: 'http://env' }, file)).toThrow(/both SHIPYARD_API_URL and SHIPYARD_API_KEY/);
    expect(() => resolveConnection({}, file, 'staging')).toThrow(/no profile "staging" \(profiles: prod, dev\)/);
    expect(() => setProfile({ profiles: {} }, 'x', { url: 'ftp://x', key: 'k' })).toThrow(UsageError);
  });
});

describe('exit codes', () => {
  it('tell failed work, usage, refusals, authentication and an unreachable API apart', () => {
    expect(exitCodeFor(new WorkFailed('rolled back'))).toBe(exitCodes.failed);
    expect(exitCodeFor(new UsageError('no API'))).toBe(exitCodes.usage);
    expect(exitCodeFor(new ShipyardProblem(404, { type: 'urn:shipyard:problem:not-found', title: 'Not found', status: 404 }))).toBe(3);
    expect(exitCodeFor(new ShipyardProblem(409, { type: 'urn:shipyard:problem:operation-running', title: 'x', status: 409 }))).toBe(3);
    expect(exitCodeFor(new ShipyardProblem(401, { type: 'urn:shipyard:problem:unauthenticated', title: 'x', status: 401 }))).toBe(4);
    expect(exitCodeFor(new ShipyardProblem(403, { type: 'urn:shipyard:problem:forbidden', title: 'x', status: 403 }))).toBe(4);
    expect(exitCodeFor(new ShipyardProblem(503, '<html>bad gateway</html>'))).toBe(5);
    expect(exitCodeFor(new ShipyardProblem(429, { type: 'urn:shipyard:problem:rate-limited', title: 'x', status: 429 }))).toBe(5);
    expect(exitCodeFor(new ShipyardUnreachable('http://x', new TypeError('fetch failed')))).toBe(5);
  });

  it('explain a refusal in a line, with its fields and what to do about a running operation', () => {
    const problem = new ShipyardProblem(409, {
      type: 'urn:shipyard:problem:operation-running',
      title: 'Another operation is running on the instance',
      status: 409,
      detail: 'operation op_1 (upgrade) is running on instance acme',
      operation: { id: 'op_1', kind: 'upgrade' },
    });
    expect(problem.is('operation-running')).toBe(true);
    expect(errorMessage(problem).split('\n')).toEqual([
      'error: Another operation is running on the instance: operation op_1 (upgrade) is running on instance acme (409 urn:shipyard:problem:operation-running)',
      'hint: `shipyard operations watch op_1` to follow it, `shipyard operations cancel op_1` to stop it',
    ]);
  });
});

describe('step changes between snapshots', () => {
  const step = (name: string, status: Step['status'], extra: Partial<Step> = {}): Step => ({ name, status, attempt: status === 'pending' ? 0 : 1, ...extra });

  it('a step seen pending then done between two snapshots still starts and ends', () => {
    expect(stepChanges([step('a', 'pending')], [step('a', 'done')]).map((c) => c.type)).toEqual(['started', 'done']);
  });
  it('a new wait reason shows each time it changes', () => {
    const first = [step('cert', 'running', { detail: 'waiting for the certificate: Issuing' })];
    expect(stepChanges(undefined, first).map((c) => c.type)).toEqual(['started', 'waiting']);
    expect(stepChanges(first, first)).toEqual([]);
    expect(stepChanges(first, [step('cert', 'running', { detail: 'waiting for DNS' })]).map((c) => c.type)).toEqual(['waiting']);
  });
  it('a failure shows the failed step, then the undos newest first', () => {
    const before = [step('a', 'done'), step('b', 'done'), step('c', 'running')];
    const after = [step('a', 'compensated'), step('b', 'compensated'), step('c', 'failed', { error: 'boom' })];
    expect(stepChanges(before, after).map((c) => `${c.type} ${c.step.name}`)).toEqual(['failed c', 'undone b', 'undone a']);
  });
  it('the outcome line says how the operation ended and why', () => {
    expect(
      outcomeLine({ id: 'op_1', instanceId: 'ins_1', kind: 'upgrade', status: 'rolled_back', steps: [], actor: 'a', startedAt: '2026-01-01T00:00:00Z', endedAt: '2026-01-01T00:00:42Z', error: 'fail-2.0.0 never became ready' }),
    ).toBe('✗ upgrade op_1 rolled back in 42.0s: fail-2.0.0 never became ready');
  });
});

describe('rollout progress', () => {
  it('draws the share of a wave that has ended, and counts what matters', () => {
    const counts = { total: 8, pending: 2, running: 2, succeeded: 3, rolledBack: 1, failed: 0, skipped: 0 };
    expect(progressBar(counts, 8)).toBe('[████░░░░]');
    expect(countsText(counts)).toBe('4/8, 3 ok, 2 running, 1 rolled back');
  });
  it("names each wave as the API does (waving by region, after its region); from an older API, wave 0 is the canary only when the strategy has one", () => {
    const counted = { size: 1, status: 'done' as const, counts: { total: 1, pending: 0, running: 0, succeeded: 1, rolledBack: 0, failed: 0, skipped: 0 } };
    const regional = { strategy: { canary: 1, waves: [100], maxParallel: 1, failureBudget: 0, pauseAfterCanary: false, waitBetweenWavesSeconds: 0, waveBy: 'region' as const } };
    expect(waveName({ ...counted, index: 2, name: 'us canary', region: 'us' }, regional)).toBe('us canary');
    const wave = { name: undefined as unknown as string, index: 0, size: 1, status: 'done' as const, counts: { total: 1, pending: 0, running: 0, succeeded: 1, rolledBack: 0, failed: 0, skipped: 0 } };
    const strategy = { waves: [100], maxParallel: 1, failureBudget: 0, pauseAfterCanary: false, waitBetweenWavesSeconds: 0 };
    expect(waveName(wave, { strategy: { ...strategy, canary: 1 } })).toBe('canary');
    expect(waveName({ ...wave, index: 2 }, { strategy: { ...strategy, canary: 1 } })).toBe('wave 2');
    expect(waveName(wave, { strategy: { ...strategy, canary: 0 } })).toBe('wave 1');
  });
});
