// The chart's search-attribute hook Job: off by default, and when enabled, a pre-install/upgrade
// hook whose command registers exactly Shipyard's search attributes. This test plays the kubelet:
// it runs the rendered container's command and env with the testbed's temporal CLI against the
// testbed's Temporal, as the chart test does for the migration Job.
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { V1Job } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { searchAttributeNames } from '../../domain/search-attributes';
import { ensureBinary, KUBERNETES_VERSION } from '../../testbed/components/kubernetes';
import { temporalCli } from '../../testbed/components/temporal';
import { repoRoot } from '../../testbed/runtime';

const run = promisify(execFile);
const chart = join(repoRoot, 'charts/shipyard');
const requiredValues = join(chart, 'ci/required-values.yaml');
let helm: string;

async function render(...args: string[]): Promise<{ kind: string; metadata: { name: string } }[]> {
  const { stdout } = await run(helm, ['template', 'sy', chart, '--kube-version', KUBERNETES_VERSION.replace(/^v/, ''), '--values', requiredValues, ...args], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return parseAllDocuments(stdout).map((d) => d.toJS()).filter(Boolean);
}

beforeAll(async () => {
  helm = await ensureBinary('helm', console.log, 'helm');
}, 900_000);

describe('charts/shipyard search attributes hook', () => {
  it('is off by default: the worker registers them at start', async () => {
    expect((await render()).filter((o) => o.metadata.name.endsWith('-search-attributes'))).toEqual([]);
  });

  it('enabled, a hook Job registers every Shipyard search attribute in the configured namespace; run twice, it changes nothing', async () => {
    const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
    const job = (await render(
      '--set', 'searchAttributes.registerJob.enabled=true',
      '--set', `config.temporalAddress=${process.env.TEMPORAL_ADDRESS}`,
      '--set', `config.temporalNamespace=${namespace}`,
    )).find((o) => o.kind === 'Job' && o.metadata.name === 'sy-shipyard-search-attributes') as unknown as V1Job | undefined;
    expect(job).toBeDefined();
    expect(job!.metadata!.annotations!['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    const container = job!.spec!.template.spec!.containers[0]!;
    expect(container.image).toBe('temporalio/temporal:1.9.1');
    expect(container.command).toEqual(['temporal']);
    const names = container.args!.flatMap((arg, i, all) => (all[i - 1] === '--name' ? [arg] : []));
    expect(names.sort()).toEqual([...searchAttributeNames].sort());

    // The kubelet's part: the container's command with its env, twice (a second install/upgrade).
    const cli = await temporalCli();
    const env = Object.fromEntries(container.env!.map((e) => [e.name, e.value!]));
    for (let i = 0; i < 2; i++) {
      const done = spawnSync(cli, container.args!, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, encoding: 'utf8' });
      expect(done.status, done.stderr).toBe(0);
    }
    const listed = spawnSync(cli, ['operator', 'search-attribute', 'list', '--output', 'json'], { env: { ...process.env, ...env }, encoding: 'utf8' });
    expect(listed.status, listed.stderr).toBe(0);
    for (const name of searchAttributeNames) expect(listed.stdout).toContain(`"${name}"`);
  });
});
