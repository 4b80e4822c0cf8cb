// The Temporal worker: runs Shipyard's workflows and activities on one task queue.
import { fileURLToPath } from 'node:url';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import postgres from 'postgres';
import { createActivities } from '../activities';
import type { ActivityDeps } from '../activities/deps';
import { connectCatalogue } from '../db/client';
import type { Config } from '../domain/config';
import { connectOrExplain, temporalConnectionOptions } from '../temporal/connection';
import { connectTemporalClient, shipyardDataConverter } from '../temporal/data-converter';
import { loadKubeConfig } from '../activities/kube-config';
import { tracedPostgres } from '../telemetry/postgres';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** The real clients the activities use, from config. `close` releases the pooled connections. */
export async function connectActivityDeps(config: Config): Promise<ActivityDeps & { close(): Promise<void> }> {
  const kube = loadKubeConfig(config.kubeconfig);
  const route53 = new Route53Client({
    region: config.awsRegion,
    ...(config.route53Endpoint ? { endpoint: config.route53Endpoint } : {}),
  });
  // Path-style against an S3-compatible endpoint (the testbed's, MinIO…): virtual-host style needs DNS for <bucket>.<host>.
  const s3 = new S3Client({
    region: config.awsRegion,
    ...(config.s3Endpoint ? { endpoint: config.s3Endpoint, forcePathStyle: true } : {}),
  });
  // Opened on demand up to the limit: an idle worker holds few.
  const tenantDb = tracedPostgres(postgres(config.tenantDatabaseUrl, { max: config.workerDatabaseConnections, onnotice: () => {} }));
  const db = connectCatalogue(config.databaseUrl, { max: config.workerDatabaseConnections });
  const { client: temporal, connection: temporalConnection } = await connectTemporalClient(config);
  return {
    config,
    kube,
    route53,
    s3,
    tenantDb,
    db,
    temporal,
    async close() {
      route53.destroy();
      s3.destroy();
      await Promise.all([tenantDb.end({ timeout: 5 }), db.$client.end({ timeout: 5 }), temporalConnection.close()]);
    },
  };
}

/**
 * Creates a worker for `config.taskQueue`. A prebuilt `workflowBundle` (dist/workflow-bundle.js,
 * which tests load too) spares the bundling of `workflows/` at start-up; tests may replace activities.
 */
export async function createWorker(
  config: Config,
  activities: object,
  options: Partial<
    Pick<
      WorkerOptions,
      | 'workflowBundle'
      | 'taskQueue'
      | 'shutdownGraceTime'
      | 'shutdownForceTime'
      | 'interceptors'
      | 'sinks'
      | 'maxHeartbeatThrottleInterval'
      | 'defaultHeartbeatThrottleInterval'
    >
  > & { /** A cluster worker: activities only, no workflows. */ activitiesOnly?: boolean } = {},
): Promise<{ worker: Worker; connection: NativeConnection }> {
  // The same options as every Client's (temporal/connection.ts); a failure says why, in one line.
  const connection = await connectOrExplain(temporalConnectionOptions(config), (o) => NativeConnection.connect(o));
  const worker = await Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: options.taskQueue ?? config.taskQueue,
    ...(options.activitiesOnly ? {} : options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    activities,
    // Codecs run here in the worker process, outside the workflow sandbox.
    dataConverter: shipyardDataConverter(config),
    shutdownGraceTime: options.shutdownGraceTime ?? '10s',
    // Heartbeats carry a wait's `detail` and bring a cancel to the activity: the SDK's default
    // throttle (0.8 × the 15 s heartbeat timeout) made both up to 12 s late. Tests that cancel
    // activities may want it shorter still.
    maxHeartbeatThrottleInterval: options.maxHeartbeatThrottleInterval ?? '5s',
    defaultHeartbeatThrottleInterval: options.defaultHeartbeatThrottleInterval ?? '5s',
    ...(options.shutdownForceTime ? { shutdownForceTime: options.shutdownForceTime } : {}),
    ...(options.interceptors ? { interceptors: options.interceptors } : {}),
    ...(options.sinks ? { sinks: options.sinks } : {}),
  });
  return { worker, connection };
}

export { createActivities };
