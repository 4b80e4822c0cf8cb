// The server commands, `shipyard api | worker | migrate | all`: the image's entry points and
// `npm run dev`'s. cli/main.ts hands over to serve() before loading any operator tooling.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import type { Logger as TemporalLogger, LogLevel } from '@temporalio/worker';
import { pino, type Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { migrateCatalogue } from '../db/migrate';
import { type Config, ConfigError, loadConfig } from '../domain/config';
import { TemporalConnectionError } from '../temporal/connection';
import { startTracing, traceLogFields } from '../telemetry/tracing';
import type { RunningApi } from '../api/server';
import type { RunningWorker } from '../worker/run';
import { temporalSdkMetrics } from '../worker/metrics';
import { clusterTaskQueue } from '../domain/clusters';

export type ServerCommand = 'api' | 'worker' | 'migrate' | 'all';

/** Next to the bundled entry point (dist/) after `npm run build`; absent when run from source. */
const prebuiltWorkflowBundle = fileURLToPath(new URL('./workflow-bundle.js', import.meta.url));
/** The same workflows with Temporal's OpenTelemetry workflow interceptors in, for a traced worker. */
const prebuiltTracedWorkflowBundle = fileURLToPath(new URL('./workflow-bundle-traced.js', import.meta.url));

/**
 * Runs a server command; `migrate` exits when done, the others when signalled. `cluster`: the
 * worker's `--cluster <name>`, a cluster worker (docs/multi-cluster.md).
 */
export async function serve(command: ServerCommand, options: { cluster?: string } = {}): Promise<void> {
  // V8 lets a heap grow to as much as 4 × what its last full collection left before it collects
  // again. With a fleet's operations in flight the worker's main heap was about 90 MiB live and
  // 240 MiB committed, at the end of a teardown of 200 instances. At 1.5 × it stayed within 121 MiB
  // at the same throughput (bench:fleet). Node refuses this flag in NODE_OPTIONS; `node
  // --heap-growing-percent=N dist/shipyard.js` still chooses another. Set before the worker's
  // workflow thread starts, so its isolate collects the same way.
  if (!process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) setFlagsFromString('--heap-growing-percent=50');

  // `worker --cluster <name>` is SHIPYARD_CLUSTER=<name>, so the flag and the variable are one setting.
  if (options.cluster !== undefined) {
    if (options.cluster === '' || options.cluster.startsWith('-')) {
      console.error('shipyard worker --cluster needs a cluster name (for example: --cluster eu-1)');
      process.exit(2);
    }
    process.env.SHIPYARD_CLUSTER = options.cluster;
  }

  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(2);
  }
  // OTEL_EXPORTER_OTLP_ENDPOINT set: traces on (telemetry/tracing.ts), started before the API's and
  // the worker's modules load, so their HTTP clients and server are instrumented. Unset: nothing loads.
  const tracing = command === 'migrate' ? undefined : await startTracing(process.env, `shipyard-${command}`);
  // While tracing, every log line written inside a span carries its trace and span ids.
  const log = pino({ level: config.logLevel, base: { component: command }, ...(tracing ? { mixin: traceLogFields } : {}) });
  if (tracing) log.info({ endpoint: tracing.endpoint }, 'tracing: spans exported over OTLP');

  if (command === 'migrate') {
    await migrateCatalogue(config.databaseUrl);
    log.info('catalogue migrated');
    process.exit(0);
  }

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const sdkMetrics = temporalSdkMetrics(config.temporalMetricsPort);

  let worker: RunningWorker | undefined;
  let api: RunningApi | undefined;
  // Each command loads only what it runs: the API never loads the worker's native Temporal core
  // (and the worker not the API's server), which keeps each process's memory to its own part.
  if (command === 'worker' || command === 'all') {
    const { startWorker } = await import('../worker/run');
    await installTemporalRuntime(config, log);
    const bundle = tracing ? prebuiltTracedWorkflowBundle : prebuiltWorkflowBundle;
    const workflowBundlePath = existsSync(bundle) ? bundle : undefined;
    const started = Date.now();
    worker = await orExit(log, startWorker(config, { registry, workflowBundlePath, serveMetrics: command === 'worker' }));
    log.info(
      {
        taskQueue: config.cluster === undefined ? config.taskQueue : clusterTaskQueue(config.taskQueue, config.cluster),
        ...(config.cluster === undefined ? {} : { cluster: config.cluster, region: config.clusterRegion }),
        temporal: config.temporalAddress,
        workflowBundle: workflowBundlePath ?? 'bundled at start-up',
        startupMs: Date.now() - started,
        ...(command === 'worker' ? { metrics: `${config.workerMetricsHost}:${config.workerMetricsPort}` } : {}),
      },
      'worker polling',
    );
  }
  if (command === 'api' || command === 'all') {
    const { serveApi } = await import('../api/server');
    // In `all`, the API's /metrics also answers for the worker and the Temporal SDK: one target.
    api = await orExit(log, serveApi(config, { metrics: { registry, ...(command === 'all' ? { extraText: sdkMetrics } : {}) } }));
  }

  let stopping = false;
  async function stop(signal: NodeJS.Signals): Promise<void> {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: API stops accepting and finishes its requests, worker drains');
    // The worker bounds its own drain (grace, then forced); this only catches a hang after that.
    const limitMs = (config.workerDrainSeconds + 20) * 1000;
    setTimeout(() => {
      log.error({ limitMs }, 'shutdown overran its bound; exiting');
      process.exit(1);
    }, limitMs).unref();
    worker?.shutdown();
    const results = await Promise.allSettled([api?.close(), worker?.done]);
    // The last spans (the shutdown's own requests included) go out before the process ends.
    await tracing?.shutdown().catch((err: unknown) => log.warn({ err }, 'tracing: could not flush the last spans'));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const f of failed) log.error({ err: f.reason }, 'shutdown failed');
    process.exit(failed.length > 0 ? 1 : 0);
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, (s) => void stop(s));

  // A worker that stops on its own (crash, lost server) takes the process down, so the
  // orchestrator restarts it rather than leaving an API with nobody running its operations.
  void worker?.done.then(
    () => {
      if (!stopping) {
        log.error('worker stopped unexpectedly');
        process.exit(1);
      }
    },
    (err: unknown) => {
      log.error({ err }, 'worker failed');
      process.exit(1);
    },
  );
}

/**
 * A start that cannot reach Temporal ends the process (non-zero, so an orchestrator restarts it)
 * with one log line saying why and naming the address, not a stack trace.
 */
async function orExit<T>(log: Logger, starting: Promise<T>): Promise<T> {
  try {
    return await starting;
  } catch (err) {
    if (!(err instanceof TemporalConnectionError)) throw err;
    log.fatal({ temporal: err.address }, err.message);
    process.exit(1);
  }
}

/**
 * Once per process, before any worker connection: the SDK's logs go to the same JSON lines
 * (core's native logs forwarded too), its metrics to a loopback Prometheus endpoint that the
 * worker's /metrics merges in, and signals are ours to handle (so `all` stops API and worker together).
 */
async function installTemporalRuntime(config: Config, logger: Logger): Promise<void> {
  const { Runtime } = await import('@temporalio/worker');
  const at = (level: LogLevel) => (message: string, meta?: Record<string, unknown>) =>
    logger[level.toLowerCase() as 'info'](meta ?? {}, message);
  const temporalLogger: TemporalLogger = {
    log: (level, message, meta) => at(level)(message, meta),
    trace: at('TRACE'),
    debug: at('DEBUG'),
    info: at('INFO'),
    warn: at('WARN'),
    error: at('ERROR'),
  };
  Runtime.install({
    logger: temporalLogger,
    shutdownSignals: [],
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      metrics: {
        prometheus: { bindAddress: `127.0.0.1:${config.temporalMetricsPort}`, countersTotalSuffix: true, useSecondsForDurations: true },
      },
    },
  });
}
