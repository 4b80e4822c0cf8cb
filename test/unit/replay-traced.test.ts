// Turning tracing on while runs are in flight: a worker with the OpenTelemetry workflow
// interceptors (the traced bundle, dist/workflow-bundle-traced.js) must replay every history
// recorded without them. The interceptors add spans and headers, never commands.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { beforeAll, describe, it } from 'vitest';
import { workflowTracingModule } from '../../telemetry/temporal';
import { workflowsPath } from '../../worker/index';

const historiesDir = join(import.meta.dirname, '..', 'workflows', 'histories');
const files = readdirSync(historiesDir).filter((f) => f.endsWith('.json')).sort();
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  bundle = await bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: [workflowTracingModule()],
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
}, 120_000);

describe('recorded workflow histories, tracing on', () => {
  it.each(files)('%s replays with the OpenTelemetry workflow interceptors', async (file) => {
    const history = JSON.parse(readFileSync(join(historiesDir, file), 'utf8'));
    // The spans' sink: a replay makes none it would export (sinks are not called while replaying).
    await Worker.runReplayHistory({ workflowBundle: bundle, sinks: { exporter: { export: { fn() {} } } } }, history, file);
  }, 60_000);
});
