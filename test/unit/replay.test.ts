// Workflow versioning guard: the current workflow code must replay every recorded history
// (test/workflows/histories, refreshed by `npm run histories:record`). A change that would fail
// runs in flight with a non-determinism error fails here; guard it with `patched()` (README).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { workflowsPath } from '../../worker/index';

const historiesDir = join(import.meta.dirname, '..', 'workflows', 'histories');
const files = readdirSync(historiesDir).filter((f) => f.endsWith('.json')).sort();
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  bundle = await bundleWorkflowCode({ workflowsPath, logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
}, 120_000);

describe('recorded workflow histories', () => {
  it('cover every operation kind', () => {
    for (const kind of ['provision', 'upgrade', 'suspend', 'resume', 'change-plan', 'teardown', 'cleanup', 'reconcile', 'metering', 'invoicing', 'rollout', 'rotate-credentials', 'credential-rotation-sweep']) {
      expect(files.some((f) => f.startsWith(kind)), kind).toBe(true);
    }
  });

  it.each(files)('%s replays on the current workflow code', async (file) => {
    const history = JSON.parse(readFileSync(join(historiesDir, file), 'utf8'));
    await Worker.runReplayHistory({ workflowBundle: bundle }, history, file);
  }, 60_000);
});
