// The `shipyard` CLI as an operator runs it (test/support/cli.ts: the built binary as a child
// process), against a whole Shipyard on the testbed, reading only its exit code and output.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runShipyardCli, showRun } from '../support/cli';
import { uniqueSuffix } from '../support/config';
import { type Stack, startStack } from '../support/stack';

let stack: Stack;
let configHome: string;
const slug = `cli-${uniqueSuffix()}`;

/** Runs `shipyard …args` from the build, connected by the environment unless `env` says otherwise. */
const shipyard = (args: string[], env: Record<string, string | undefined> = {}) =>
  runShipyardCli(args, { HOME: configHome, XDG_CONFIG_HOME: configHome, SHIPYARD_API_URL: stack.api.baseUrl, SHIPYARD_API_KEY: stack.config.adminKey, ...env });
const show = showRun;

beforeAll(async () => {
  configHome = mkdtempSync(join(tmpdir(), 'shipyard-cli-'));
  stack = await startStack({ SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '20' });
});
afterAll(async () => {
  await stack?.stop();
  if (configHome) rmSync(configHome, { recursive: true, force: true });
});

describe('shipyard, the CLI', () => {
  it('--help lists the resources and the exit codes; a wrong command is a usage error (2)', async () => {
    const help = await shipyard(['--help']);
    expect(help.code, show(help)).toBe(0);
    for (const word of ['instances', 'operations', 'rollouts', 'backups', 'health', 'invoices', 'keys', 'webhooks', 'api', 'worker', 'Exit codes']) {
      expect(help.stdout).toContain(word);
    }
    const verbs = await shipyard(['instances', 'create', '--help']);
    expect(verbs.stdout).toMatch(/--wait/);
    const wrong = await shipyard(['instances', 'frobnicate']);
    expect(wrong.code, show(wrong)).toBe(2);
    const completion = await shipyard(['completion', 'bash']);
    expect(completion.stdout).toMatch(/complete -o default -F _shipyard shipyard/);
  });

  it('create --wait shows each step and exits 0 with the instance ready', async () => {
    const run = await shipyard(['instances', 'create', '--name', 'CLI Ltd', '--slug', slug, '--plan', 'starter', '--owner-email', 'ops@cli.test', '--version', '1.0.0', '--wait', '-o', 'table']);
    console.log(`shipyard instances create --wait:\n${run.stdout}`);
    expect(run.code, show(run)).toBe(0);
    // Off a terminal: one plain line per step change, a tick per done step, then the outcome.
    expect(run.stdout).toMatch(/^provision op_\w+ on /m);
    expect(run.stdout).toMatch(/^ {2}✓ \S.*\(\d/m);
    expect(run.stdout).toMatch(/^✓ provision op_\w+ succeeded in /m);
    expect(run.stdout).toMatch(new RegExp(`^${slug} +ready +`, 'm'));
    const { body } = await stack.api.call('GET', `/v1/instances/${slug}`);
    expect(body).toMatchObject({ status: 'ready', version: '1.0.0' });
  });

  it('-o json prints JSON that parses: one object, and JSON lines for a list', async () => {
    const one = await shipyard(['instances', 'get', slug, '-o', 'json']);
    expect(one.code, show(one)).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ slug, status: 'ready', plan: 'starter' });
    // Piped with no -o: JSON lines, one instance a line.
    const listed = await shipyard(['instances', 'list', '--limit', '100']);
    expect(listed.code, show(listed)).toBe(0);
    const items = listed.stdout.trim().split('\n').map((line) => JSON.parse(line) as { slug: string });
    expect(items.length).toBeGreaterThan(0);
    const yaml = await shipyard(['instances', 'get', slug, '-o', 'yaml']);
    expect(yaml.stdout).toMatch(new RegExp(`^slug: ${slug}$`, 'm'));
  });

  it('an upgrade to a version that never becomes ready exits 1 and shows the failed step and the rollback', async () => {
    const run = await shipyard(['instances', 'upgrade', slug, '--version', 'fail-2.0.0', '--wait']);
    console.log(`shipyard instances upgrade --wait (piped):\n--- stderr\n${run.stderr}`);
    expect(run.code, show(run)).toBe(1);
    // Progress goes to stderr when stdout is for a program; stdout holds the operation as it ended.
    expect(run.stderr).toMatch(/^ {2}✗ \S.*fail-2\.0\.0/m);
    // The rollback: the upgrade's own steps that put the previous version back.
    expect(run.stderr).toMatch(/^ {2}✓ restore previous version \(/m);
    expect(run.stderr).toMatch(/^✗ upgrade op_\w+ rolled back in .*fail-2\.0\.0.*restored 1\.0\.0$/m);
    expect(run.stderr).toMatch(/^error: upgrade op_\w+ rolled back$/m);
    expect(JSON.parse(run.stdout)).toMatchObject({ kind: 'upgrade', status: 'rolled_back' });
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body).toMatchObject({ status: 'ready', version: '1.0.0' });
  });

  it('rollouts start --wait follows the waves to the end and exits 0', async () => {
    const run = await shipyard(['rollouts', 'start', '--version', '1.1.0', '--slugs', slug, '--canary', '0', '--waves', '100', '--wait', '-o', 'table']);
    console.log(`shipyard rollouts start --wait:\n${run.stdout}`);
    expect(run.code, show(run)).toBe(0);
    expect(run.stdout).toMatch(/^rollout ro_\w+ of 1\.1\.0: 1 instances in \d+ waves/m);
    expect(run.stdout).toMatch(/^wave 1 +\[█+\] 1\/1, 1 ok$/m);
    expect(run.stdout).toMatch(/^✓ rollout ro_\w+ of 1\.1\.0 succeeded in .*: 1\/1, 1 ok$/m);
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body).toMatchObject({ status: 'ready', version: '1.1.0' });
  });

  it('a refused request exits 3 with the problem type; a bad key exits 4 with a clear message', async () => {
    const missing = await shipyard(['instances', 'get', 'no-such-instance']);
    expect(missing.code, show(missing)).toBe(3);
    expect(missing.stderr).toMatch(/urn:shipyard:problem:not-found/);

    const badKey = await shipyard(['instances', 'list'], { SHIPYARD_API_KEY: 'sy_not-a-real-key' });
    expect(badKey.code, show(badKey)).toBe(4);
    expect(badKey.stderr).toMatch(/^error: Missing or invalid API key: unknown or revoked API key \(401 urn:shipyard:problem:unauthenticated\)$/m);
    expect(badKey.stderr).toMatch(/^hint: check SHIPYARD_API_KEY/m);
    expect(badKey.stderr).not.toMatch(/\n\s+at /);

    const unreachable = await shipyard(['instances', 'list'], { SHIPYARD_API_URL: 'http://127.0.0.1:9' });
    expect(unreachable.code, show(unreachable)).toBe(5);
  });

  it('a profile saved with config set-profile connects in place of the environment, from a 0600 file', async () => {
    const saved = await shipyard(['config', 'set-profile', 'testbed', '--url', stack.api.baseUrl, '--key', stack.config.adminKey!]);
    expect(saved.code, show(saved)).toBe(0);
    expect(statSync(join(configHome, 'shipyard', 'config.yaml')).mode & 0o777).toBe(0o600);
    const run = await shipyard(['--profile', 'testbed', 'instances', 'get', slug, '-o', 'json'], { SHIPYARD_API_URL: undefined, SHIPYARD_API_KEY: undefined });
    expect(run.code, show(run)).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ slug });
  });

  it('whoami names the key; clusters list answers (none in a single-cluster install); a move to a cluster nobody registered exits 3 naming the problem', async () => {
    const me = await shipyard(['whoami', '-o', 'json']);
    expect(me.code, show(me)).toBe(0);
    expect(JSON.parse(me.stdout)).toMatchObject({ role: 'admin' });
    const clusters = await shipyard(['clusters', 'list', '-o', 'table']);
    expect(clusters.code, show(clusters)).toBe(0);
    // A single-cluster install registers no cluster; the shared catalogue may hold other files' (test/exclusive/multi-cluster.test.ts).
    expect(clusters.stdout).toMatch(/^(NAME +REGION +STATUS +INSTANCES +FREE CPU .*|\(none\))$/m);
    const move = await shipyard(['instances', 'move', slug, '--cluster', 'nowhere-1', '--wait']);
    expect(move.code, show(move)).toBe(3);
    expect(move.stderr).toMatch(/no cluster nowhere-1 is registered.*urn:shipyard:problem:placement-unserved/);
    const missing = await shipyard(['clusters', 'get', 'nowhere-1']);
    expect(missing.code, show(missing)).toBe(3);
  });

  it('delete --grace 0 --wait removes the instance and exits 0', async () => {
    const run = await shipyard(['instances', 'delete', slug, '--grace', '0', '--wait', '-o', 'table']);
    expect(run.code, show(run)).toBe(0);
    expect(run.stdout).toMatch(/^✓ teardown op_\w+ succeeded/m);
    expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body.status).toBe('deleted');
  });
});
