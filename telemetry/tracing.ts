// OpenTelemetry traces for Shipyard's processes, configured by the standard OTEL_* variables.
//
// Off unless an OTLP endpoint is set: then no SDK code is even loaded (it is imported only here,
// lazily), no instrumentation patches anything, and the Temporal interceptors and the Postgres
// spans are not installed; what stays is a check of `activeTracing()` where clients are made.
//
// On, one trace follows a request from the API's HTTP server span through the Temporal client
// (StartWorkflow), the workflow (RunWorkflow, StartActivity), each activity (RunActivity) and
// down to its outside calls: Kubernetes and Route 53 (outbound HTTP), Postgres (telemetry/postgres.ts).
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { context, trace } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** The endpoint traces go to, or undefined when tracing is off (the SDK's own rules for OTEL_*). */
export function tracesEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  // An explicit `none` among the exporters turns traces off even with an endpoint set.
  if ((env.OTEL_TRACES_EXPORTER ?? '').split(',').some((name) => name.trim() === 'none')) return undefined;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return endpoint || undefined;
}

export interface Tracing {
  /** The traces' endpoint, for the start-up log line. */
  endpoint: string;
  /** service.name and the OTEL_RESOURCE_ATTRIBUTES: the workflow spans' exporter sink needs them too. */
  resource: Resource;
  /** The processor (batching, OTLP export) that also takes the spans made inside the workflow sandbox. */
  spanProcessor: SpanProcessor;
  /** Flushes what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

let active: Tracing | undefined;

/** The running tracing of this process, if `startTracing` started one. */
export function activeTracing(): Tracing | undefined {
  return active;
}

/**
 * Starts the OpenTelemetry SDK when an endpoint is set; undefined (and nothing loaded) otherwise.
 * Call it before the modules that make HTTP requests or serve them are loaded: the HTTP
 * instrumentation patches Node's `http`/`https` as they are required.
 */
export async function startTracing(env: NodeJS.ProcessEnv, defaultServiceName: string): Promise<Tracing | undefined> {
  if (active) return active;
  const endpoint = tracesEndpoint(env);
  if (!endpoint) return undefined;
  const [{ NodeSDK }, { OTLPTraceExporter }, { BatchSpanProcessor }, { Resource, envDetectorSync }, { HttpInstrumentation }, { UndiciInstrumentation }] =
    await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-undici'),
    ]);
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the command's default name.
  const resource = Resource.default().merge(new Resource({ 'service.name': defaultServiceName })).merge(envDetectorSync.detect());
  // The exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT/HEADERS/TIMEOUT, the processor OTEL_BSP_*.
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter());
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    spanProcessors: [spanProcessor],
    // Traces only: Shipyard's metrics are Prometheus (/metrics), its logs JSON lines on stdout.
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        // Probes and scrapes would be most of the API's spans and tell nothing.
        ignoreIncomingRequestHook: (request) => /^\/(healthz|readyz|metrics)(\?|$)/.test(request.url ?? ''),
      }),
      // Node's fetch (webhook deliveries and anything else on undici).
      new UndiciInstrumentation(),
    ],
  });
  sdk.start();
  // The instrumentation patches `http`/`https` when they are next required; this process loaded
  // them already, so require them now. Code bundled as ESM imports their functions by name: those
  // bindings see the patches once Node syncs them with the CommonJS modules'.
  const load = createRequire(import.meta.url);
  load('node:http');
  load('node:https');
  syncBuiltinESMExports();
  active = {
    endpoint,
    resource,
    spanProcessor,
    async shutdown() {
      active = undefined;
      await sdk.shutdown();
    },
  };
  return active;
}

/**
 * Fields for a log line (a pino mixin): the trace and span ids of the span active where the line
 * is written, so a log line leads to its trace and back.
 */
export function traceLogFields(): { traceId: string; spanId: string } | Record<string, never> {
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}
