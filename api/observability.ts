// What the API tells its operators: one log line per request and Prometheus metrics at /metrics.
//
// /metrics is open, like /healthz: Prometheus scrapes without API keys, and every series is an
// aggregate over a bounded label set (route templates, status codes, instance statuses), never
// a slug, key or body. Deployments keep it off the public path the way they do for /healthz
// (the chart's Ingress routes only /v1 and /docs, and its NetworkPolicy admits the scraper).
import { context, trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../db/client';
import { countInstancesByStatus } from '../db/instances';
import { instanceStatuses } from '../domain/instance';
import type { StreamHub } from '../lifecycle/streams';
import { activeTracing } from '../telemetry/tracing';

export interface ApiMetricsOptions {
  /** The process's registry (with default Node metrics); a fresh one when absent, as in tests. */
  registry?: Registry;
  /** More exposition text appended to the answer: the Temporal SDK's when API and worker share a process. */
  extraText?: () => Promise<string>;
}

export function installObservability(app: FastifyInstance, db: Database, options: ApiMetricsOptions & { streams?: StreamHub } = {}): void {
  const registry = options.registry ?? new Registry();
  if (options.streams) streamMetrics(registry, options.streams);

  const httpDuration = new Histogram({
    name: 'shipyard_http_request_duration_seconds',
    help: 'API requests by method, route template and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  // Read from the catalogue at scrape time: a level of the fleet, not an event this process
  // saw, so every API replica reports the same (aggregate with max, not sum).
  new Gauge({
    name: 'shipyard_instances',
    help: 'Instances by the status the API shows (an instance with a running operation shows that operation\'s status)',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const counts = new Map((await countInstancesByStatus(db)).map((row) => [row.status, row.count]));
      // Every status is reported, zeros too, so a status that empties shows 0 instead of vanishing.
      for (const status of instanceStatuses) this.set({ status }, counts.get(status) ?? 0);
    },
  });

  // The HTTP instrumentation names a server span by its method only; the route template makes it
  // "POST /v1/instances", the name a person looks for (and still no slug or id in it).
  if (activeTracing()) {
    app.addHook('onRequest', async (request) => {
      const route = request.routeOptions.url;
      const span = trace.getSpan(context.active());
      if (!route || !span) return;
      span.updateName(`${request.method} ${route}`);
      span.setAttribute('http.route', route);
    });
  }

  app.addHook('onResponse', async (request, reply) => {
    // The template, not the URL: bounded cardinality and no slugs or ids in the labels.
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    httpDuration.observe({ method: request.method, route, status: String(status) }, reply.elapsedTime / 1000);
    if (route === '/metrics' || route === '/healthz' || route === '/readyz') return;
    // The key's name only (set by /v1 authentication); never the key, headers or a body.
    request.log.info(
      {
        method: request.method,
        route,
        status,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        apiKey: request.caller?.name,
      },
      'request',
    );
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const extra = options.extraText ? await options.extraText() : '';
    reply.header('content-type', registry.contentType);
    return (await registry.metrics()) + extra;
  });
}

/** What the event streams cost: watchers, the readers behind them, and the live reads those make. */
function streamMetrics(registry: Registry, streams: StreamHub): void {
  new Gauge({
    name: 'shipyard_stream_watchers',
    help: 'Clients connected to an event stream, by stream (operation: GET /v1/operations/{id}/events; fleet: GET /v1/events)',
    labelNames: ['stream'] as const,
    registers: [registry],
    collect() {
      const stats = streams.stats();
      this.set({ stream: 'operation' }, stats.operationWatchers);
      this.set({ stream: 'fleet' }, stats.fleetWatchers);
    },
  });
  new Gauge({
    name: 'shipyard_stream_operation_readers',
    help: 'Operations read live for event streams: one reader each, however many clients watch it',
    registers: [registry],
    collect() {
      this.set(streams.stats().operationReaders);
    },
  });
  new Counter({
    name: 'shipyard_stream_operation_reads_total',
    help: 'Live reads of running operations for event streams (each one describe and one query of the run in Temporal)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(streams.stats().operationReads);
    },
  });
}
