// Listens and closes: the API as a long-running server (`shipyard api`, or part of `shipyard all`).
// Migrations are a separate, explicit step (`shipyard migrate`).
import type { FastifyInstance } from 'fastify';
import { connectCatalogue } from '../db/client';
import type { Config } from '../domain/config';
import { connectTemporalClient } from '../temporal/data-converter';
import { activeTracing, traceLogFields } from '../telemetry/tracing';
import { build } from './app';
import type { ApiMetricsOptions } from './observability';

export interface RunningApi {
  app: FastifyInstance;
  /** Stops accepting connections, lets in-flight requests finish, then releases the clients. */
  close(): Promise<void>;
}

export async function serveApi(config: Config, options: { metrics?: ApiMetricsOptions } = {}): Promise<RunningApi> {
  const db = connectCatalogue(config.databaseUrl);
  const { client: temporal, connection } = await connectTemporalClient(config);
  const app = await build(
    { config, db, temporal, checkCapacity: true },
    // JSON lines; `apiKey` in request logs is a key's name, and no serializer here prints headers.
    // While tracing, a request's log lines carry its trace and span ids.
    {
      logger: { level: config.logLevel, base: { component: 'api' }, ...(activeTracing() ? { mixin: traceLogFields } : {}) },
      metrics: options.metrics,
    },
  );
  await app.listen({ host: config.apiHost, port: config.apiPort });
  return {
    app,
    async close() {
      await app.close();
      await connection.close();
      await db.$client.end({ timeout: 5 });
    },
  };
}
