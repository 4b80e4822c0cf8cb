// Temporal's OpenTelemetry interceptors, installed only while tracing is on (telemetry/tracing.ts).
// The client's carries the caller's span into the workflow's headers (StartWorkflow); the
// workflow's, inside the sandbox, make RunWorkflow and StartActivity spans and hand them out
// through a sink; the activity's continue the trace in the worker (RunActivity), where the
// outbound HTTP and Postgres spans of the activity's calls hang below it.
import { createRequire } from 'node:module';
import type { ClientInterceptors } from '@temporalio/client';
import type { WorkerOptions } from '@temporalio/worker';
import { activeTracing, type Tracing } from './tracing';

/**
 * The workflow interceptors module: bundled into the workflow code (`bundleWorkflowCode`'s
 * `workflowInterceptorModules`), so the traced bundle is a second bundle, chosen at start.
 */
export function workflowTracingModule(): string {
  return createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');
}

/** Client interceptors for a Temporal client of this process: none while tracing is off. */
export async function tracingClientInterceptors(): Promise<ClientInterceptors | undefined> {
  if (!activeTracing()) return undefined;
  const { OpenTelemetryWorkflowClientInterceptor } = await import('@temporalio/interceptors-opentelemetry/lib/client');
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}

type TracingWorkerOptions = Required<Pick<WorkerOptions, 'sinks'>> & {
  interceptors: { activity: NonNullable<NonNullable<WorkerOptions['interceptors']>['activity']>; workflowModules: string[] };
};

/**
 * What a worker adds to trace: the activity interceptors, the sink that exports the spans made in
 * the workflow sandbox, and the workflow interceptors module (for a worker that bundles its
 * workflows at start; a prebuilt bundle must already contain it).
 */
export async function tracingWorkerOptions(tracing: Tracing): Promise<TracingWorkerOptions> {
  const { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, makeWorkflowExporter } = await import(
    '@temporalio/interceptors-opentelemetry/lib/worker'
  );
  return {
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
    interceptors: {
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
      workflowModules: [workflowTracingModule()],
    },
  };
}
