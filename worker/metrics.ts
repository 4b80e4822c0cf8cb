// The worker's Prometheus metrics: Shipyard's operation metrics (prom-client) plus the Temporal
// SDK's own, served together on SHIPYARD_WORKER_METRICS_PORT.
//
// Operation ends are observed where they happen, in this worker: every operation workflow ends
// by running the `closeOperation` activity with its result, so an activity interceptor that
// sees that activity succeed counts the operation and times its steps, without the workflows
// knowing about metrics. Counting at scrape time from the catalogue was the alternative; it
// would turn a per-process counter into a fleet-wide level reported by every replica, and
// histograms of past operations cannot be rebuilt from rows cheaply. The price: a
// closing activity whose completion is lost (worker dies just after the write) runs again and
// counts twice, as any at-least-once event source does.
import { createServer, type Server } from 'node:http';
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Database } from '../db/client';
import { getOperation } from '../db/operations';
import type { OperationResult } from '../domain/operations';

/**
 * The operation an activity ended, if it is the one an operation workflow ends with:
 * `closeOperation({ event, result })`, or `finishOperation(operationId, result)` in runs from before it.
 */
function operationEnded(activityType: string, args: unknown[]): { operationId: string; result: OperationResult } | undefined {
  if (activityType === 'closeOperation') {
    const [close] = args as [{ event: { operationId: string }; result: OperationResult }];
    return { operationId: close.event.operationId, result: close.result };
  }
  if (activityType === 'finishOperation') {
    const [operationId, result] = args as [string, OperationResult];
    return { operationId, result };
  }
  return undefined;
}

export function operationMetrics(registry: Registry) {
  return {
    operations: new Counter({
      name: 'shipyard_operations_total',
      help: 'Operations that ended, by kind and final status',
      labelNames: ['kind', 'status'] as const,
      registers: [registry],
    }),
    operationDuration: new Histogram({
      name: 'shipyard_operation_duration_seconds',
      help: 'Time from an operation being accepted to its end, by kind',
      labelNames: ['kind'] as const,
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1200, 3600],
      registers: [registry],
    }),
    stepDuration: new Histogram({
      name: 'shipyard_step_duration_seconds',
      help: 'Time each step of an operation took (retries included), by kind and step',
      labelNames: ['kind', 'step'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers: [registry],
    }),
  };
}

export type OperationMetrics = ReturnType<typeof operationMetrics>;

/** Records an operation's metrics once its closing activity has written the result. */
export function operationMetricsInterceptor(metrics: OperationMetrics, db: Database): ActivityInterceptorsFactory {
  return (ctx: Context) => ({
    inbound: {
      async execute(input, next) {
        const output = await next(input);
        const ended = operationEnded(ctx.info.activityType, input.args);
        if (ended) {
          const { operationId, result } = ended;
          // Metrics must never fail the activity that records an operation's outcome.
          await recordOperation(metrics, db, operationId, result).catch((err: unknown) =>
            ctx.log.warn('operation metrics not recorded', { operationId, error: String(err) }),
          );
        }
        return output;
      },
    },
  });
}

async function recordOperation(metrics: OperationMetrics, db: Database, operationId: string, result: OperationResult): Promise<void> {
  // The row has what the result lacks: the kind, and when the API accepted the operation.
  const row = await getOperation(db, operationId);
  if (!row) return;
  metrics.operations.inc({ kind: row.kind, status: result.status });
  if (row.endedAt) metrics.operationDuration.observe({ kind: row.kind }, (row.endedAt.getTime() - row.startedAt.getTime()) / 1000);
  for (const step of result.steps) {
    if (!step.startedAt || !step.endedAt) continue;
    const seconds = (Date.parse(step.endedAt) - Date.parse(step.startedAt)) / 1000;
    if (seconds >= 0) metrics.stepDuration.observe({ kind: row.kind, step: step.name }, seconds);
  }
}

/**
 * The Temporal SDK serves its metrics itself (Runtime telemetry, Prometheus exporter) on a
 * loopback port; this reads them so they can be answered together with Shipyard's, and one
 * scrape target per worker is enough.
 */
export function temporalSdkMetrics(port: number): () => Promise<string> {
  return async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) });
      if (!res.ok) return `# Temporal SDK metrics unavailable: HTTP ${res.status}\n`;
      return await res.text();
    } catch (err) {
      return `# Temporal SDK metrics unavailable: ${(err as Error).message}\n`;
    }
  };
}

/** Serves `GET /metrics` (and `/healthz` for probes) on host:port until closed. */
export async function serveMetrics(
  host: string,
  port: number,
  registry: Registry,
  extraText: () => Promise<string> = async () => '',
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      Promise.all([registry.metrics(), extraText()]).then(
        ([ours, sdk]) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(ours + sdk);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics failed: ${(err as Error).message}\n`);
        },
      );
    } else if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
