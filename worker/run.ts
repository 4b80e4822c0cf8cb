// The worker as a long-running process part (`shipyard worker`, or part of `shipyard all`):
// polls the task queue until shut down, then drains within SHIPYARD_WORKER_DRAIN_SECONDS.
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { Runtime, type Worker } from '@temporalio/worker';
import { refreshClusterPicture } from '../activities/capacity';
import { wildcardCertificate } from '../activities/wildcard-certificate';
import type { Config } from '../domain/config';
import { clusterTaskQueue, parseLabels } from '../domain/clusters';
import { registerCluster } from '../db/clusters';
import { connectActivityDeps, createActivities, createWorker } from './index';
import { operationMetrics, operationMetricsInterceptor, serveMetrics, temporalSdkMetrics } from './metrics';
import { ensureSchedules } from './schedules';
import { ensureSearchAttributes } from './search-attributes';
import { tracingWorkerOptions } from '../telemetry/temporal';
import { activeTracing } from '../telemetry/tracing';

export interface RunningWorker {
  /** Settles when the worker has stopped and its clients are released; rejects if it crashed or the drain overran. */
  done: Promise<void>;
  /** Stops polling; running activities get `drain` seconds, then are cancelled (they see it at their next heartbeat). */
  shutdown(): void;
}

export async function startWorker(
  config: Config,
  options: {
    registry: Registry;
    /** Path of the workflow bundle made by `npm run build`; without it, workflows are bundled now (slower start). */
    workflowBundlePath?: string;
    /** Serve the registry (plus the Temporal SDK's metrics) on SHIPYARD_WORKER_METRICS_PORT. */
    serveMetrics: boolean;
  },
): Promise<RunningWorker> {
  if (config.cluster !== undefined) return startClusterWorker(config, config.cluster, options);
  const deps = await connectActivityDeps(config);
  const searchAttributes = await ensureSearchAttributes(deps.temporal, config);
  if (searchAttributes.registered) {
    if (searchAttributes.added.length > 0) Runtime.instance().logger.info('registered search attributes', { names: searchAttributes.added.join(', ') });
  } else {
    Runtime.instance().logger.warn(
      "could not register Shipyard's search attributes; runs start without them (not findable by ShipyardInstance, ShipyardOperation, …) until they are registered",
      { namespace: config.temporalNamespace, error: searchAttributes.reason, fix: searchAttributes.fix },
    );
  }
  await ensureSchedules(deps.temporal, config, { searchAttributes: searchAttributes.registered });
  // With SHIPYARD_TLS_MODE=wildcard, the shared certificate is asked for now, so its issuance (a
  // DNS-01 challenge takes a minute or two) is under way before the first provision, which ensures
  // it again and waits for it to be Ready. Not fatal here: that provision step says what is wrong.
  if (config.tlsMode === 'wildcard') {
    await wildcardCertificate(deps.kube, config)
      .ensure()
      .catch((err: unknown) => {
        Runtime.instance().logger.warn('could not ensure the wildcard certificate; every provision tries again', {
          namespace: config.ingressNamespace,
          error: err instanceof Error ? err.message : String(err),
        });
      });
  }
  // Before polling, so an API beside a worker that has started admits against a listing. A cluster
  // that cannot be listed now does not keep the worker from its operations: every reconcile pass
  // lists it again.
  await refreshClusterPicture(deps.kube, deps.db, config.taskQueue).catch((err: unknown) => {
    Runtime.instance().logger.warn('could not list the cluster for admission; the next reconcile pass tries again', {
      taskQueue: config.taskQueue,
      error: err instanceof Error ? err.message : String(err),
    });
  });
  const metrics = operationMetrics(options.registry);
  // While tracing: the activity interceptors and the workflow spans' sink; the workflow
  // interceptors are in the traced prebuilt bundle, or bundled now with the workflows.
  const tracing = activeTracing();
  const traced = tracing ? await tracingWorkerOptions(tracing) : undefined;
  const { worker, connection } = await createWorker(config, createActivities(deps), {
    ...(options.workflowBundlePath ? { workflowBundle: { codePath: options.workflowBundlePath } } : {}),
    interceptors: {
      activity: [...(traced?.interceptors.activity ?? []), operationMetricsInterceptor(metrics, deps.db)],
      ...(traced && !options.workflowBundlePath ? { workflowModules: traced.interceptors.workflowModules } : {}),
    },
    ...(traced ? { sinks: traced.sinks } : {}),
    shutdownGraceTime: `${config.workerDrainSeconds}s`,
    // A hard stop after the grace time, so a stuck activity cannot hold the process past its pod's grace period.
    shutdownForceTime: `${config.workerDrainSeconds + 10}s`,
  });
  let metricsServer: Server | undefined;
  if (options.serveMetrics) {
    metricsServer = await serveMetrics(
      config.workerMetricsHost,
      config.workerMetricsPort,
      options.registry,
      temporalSdkMetrics(config.temporalMetricsPort),
    );
  }
  return running(worker, [() => metricsServer?.close(), () => connection.close(), () => deps.close()]);
}

/**
 * A cluster worker (`shipyard worker --cluster <name>`): runs inside its cluster with that cluster's
 * KUBECONFIG (and TENANT_DATABASE_URL), registers the cluster in the catalogue, reports its capacity
 * now (and whenever the `shipyard-cluster-reports` schedule asks), and serves the activities that
 * touch the cluster on the cluster's task queue. It runs no workflow and keeps no schedule: those
 * are the central workers'.
 */
async function startClusterWorker(
  central: Config,
  cluster: string,
  options: { registry: Registry; serveMetrics: boolean },
): Promise<RunningWorker> {
  const taskQueue = clusterTaskQueue(central.taskQueue, cluster);
  // The activities see the cluster's queue as theirs: the quotas they record and the capacity they
  // report are the cluster's.
  const config: Config = { ...central, taskQueue };
  const deps = await connectActivityDeps(config);
  await registerCluster(deps.db, {
    name: cluster,
    region: config.clusterRegion,
    labels: parseLabels(config.clusterLabels),
    taskQueue,
    ingressTarget: config.ingressTarget,
  });
  await refreshClusterPicture(deps.kube, deps.db, taskQueue).catch((err: unknown) => {
    Runtime.instance().logger.warn('could not list the cluster for its first report; the next scheduled report tries again', {
      cluster,
      error: err instanceof Error ? err.message : String(err),
    });
  });
  const metrics = operationMetrics(options.registry);
  const { worker, connection } = await createWorker(config, createActivities(deps), {
    activitiesOnly: true,
    interceptors: { activity: [operationMetricsInterceptor(metrics, deps.db)] },
    shutdownGraceTime: `${config.workerDrainSeconds}s`,
    shutdownForceTime: `${config.workerDrainSeconds + 10}s`,
  });
  let metricsServer: Server | undefined;
  if (options.serveMetrics) {
    metricsServer = await serveMetrics(config.workerMetricsHost, config.workerMetricsPort, options.registry, temporalSdkMetrics(config.temporalMetricsPort));
  }
  return running(worker, [() => metricsServer?.close(), () => connection.close(), () => deps.close()]);
}

/** Runs `worker` until it stops, then releases what it used, in order; central and cluster workers alike. */
function running(worker: Worker, release: (() => unknown)[]): RunningWorker {
  const done = (async () => {
    try {
      await worker.run();
    } finally {
      for (const step of release) await step();
    }
  })();
  return {
    done,
    shutdown() {
      // Only a running worker can start a shutdown; a second signal finds it draining already.
      if (worker.getState() === 'RUNNING') worker.shutdown();
    },
  };
}
