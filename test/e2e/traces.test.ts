// Traces end to end: Shipyard's API and worker (the production build) export over OTLP to a real
// OpenTelemetry Collector, and one provision through the API is one trace, from the HTTP request
// through the workflow and its activities down to the Kubernetes, Route 53 and Postgres calls.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, startCollector } from '../../testbed/components/otel-collector';
import { uniqueSuffix } from '../support/config';
import { freePort, type Stack, startStack } from '../support/stack';
import { until } from '../support/until';
import { ancestors, printTrace, type ReceivedSpan, receivedSpans, SpanKind } from '../support/traces';

let collector: Collector;
let stack: Stack;
const apiLines: string[] = [];
const slug = `trace-${uniqueSuffix()}`;

beforeAll(async () => {
  collector = await startCollector({
    dir: mkdtempSync(join(tmpdir(), 'shipyard-traces-')),
    port: await freePort(),
    say: (message) => console.log(`[otel-collector] ${message}`),
  });
  stack = await startStack({
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
    // Exported within a fraction of a second, so the test waits on spans, not on the batch timer.
    OTEL_BSP_SCHEDULE_DELAY: '200',
  });
  createInterface({ input: stack.apiProcess.child.stdout! }).on('line', (line) => apiLines.push(line));
  // A cold cache builds the collector first (about 2 minutes on 2 cores).
}, 600_000);
afterAll(async () => {
  await stack?.stop();
  await collector?.stop();
});

/** The attribute holding an HTTP client span's URL (old and new semantic conventions). */
const urlOf = (span: ReceivedSpan) => String(span.attributes['http.url'] ?? span.attributes['url.full'] ?? '');

describe('traces', () => {
  it('a provision is one trace from POST /v1/instances down to the Kubernetes, Route 53 and Postgres calls', async () => {
    const created = await stack.api.call('POST', '/v1/instances', {
      name: 'Traced Ltd',
      slug,
      plan: 'starter',
      ownerEmail: 'ops@traced.test',
      version: '1.0.0',
    });
    expect(created.status).toBe(202);
    const op = await stack.api.settled(created.body.operation.id);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');

    const kubeApi = 'https://127.0.0.1:';
    const route53 = stack.config.route53Endpoint!;
    // The request's trace, once the last activity's spans have arrived (the batch goes every 200 ms).
    const { request, spans } = await until(
      'the provision\'s trace, its workflow ended and its Route 53 calls in',
      async () => {
          const spans = receivedSpans(collector.exports());
          const request = spans.find((s) => s.kind === SpanKind.server && s.name === 'POST /v1/instances' && s.service === 'shipyard-api');
          if (!request) return undefined;
          const inTrace = spans.filter((s) => s.traceId === request.traceId);
          const done = inTrace.some((s) => s.name.startsWith('RunWorkflow:') && s.endNs > 0n) && inTrace.some((s) => urlOf(s).startsWith(route53));
          return done ? { request, spans: inTrace } : undefined;
      },
      30_000,
    );
    console.log(`trace ${request.traceId} (${spans.length} spans):\n${printTrace(spans, describeSpan)}`);

    // The request's server span is the root: it came from outside with no trace of its own.
    expect(request.parentSpanId).toBeUndefined();
    expect(request.attributes['http.route']).toBe('/v1/instances');
    const chainOf = (span: ReceivedSpan) => ancestors(span, spans).map((s) => s.name);

    // API → Temporal client → workflow, each the parent of the next.
    const start = spans.find((s) => s.name.startsWith('StartWorkflow:'));
    expect(start, 'StartWorkflow span').toBeDefined();
    expect(chainOf(start!)).toContain('POST /v1/instances');
    const run = spans.find((s) => s.name.startsWith('RunWorkflow:'));
    expect(run, 'RunWorkflow span').toBeDefined();
    expect(run!.parentSpanId).toBe(start!.spanId);
    expect(run!.service).toBe('shipyard-worker');

    // Every activity runs under the workflow, scheduled by it (StartActivity → RunActivity).
    const activities = spans.filter((s) => s.name.startsWith('RunActivity:'));
    expect(activities.length).toBeGreaterThan(3);
    for (const activity of activities) {
      const chain = chainOf(activity);
      expect(chain[0], activity.name).toMatch(/^StartActivity:/);
      expect(chain).toEqual(expect.arrayContaining([run!.name, start!.name, 'POST /v1/instances']));
    }

    // The outside calls hang below the activity that made them, all the way up to the request.
    const underAnActivity = (span: ReceivedSpan) => {
      const chain = chainOf(span);
      return chain.some((name) => name.startsWith('RunActivity:')) && chain.at(-1) === 'POST /v1/instances';
    };
    const kubernetesCalls = spans.filter((s) => s.kind === SpanKind.client && urlOf(s).startsWith(kubeApi));
    expect(kubernetesCalls.length, 'Kubernetes calls').toBeGreaterThan(3);
    expect(kubernetesCalls.filter(underAnActivity)).toEqual(kubernetesCalls);
    const route53Calls = spans.filter((s) => s.kind === SpanKind.client && urlOf(s).startsWith(route53));
    expect(route53Calls.length, 'Route 53 calls').toBeGreaterThan(0);
    expect(route53Calls.filter(underAnActivity)).toEqual(route53Calls);
    const queries = spans.filter((s) => s.attributes['db.system'] === 'postgresql');
    // The API's own (the catalogue, in the request) and the activities' (catalogue and tenant database).
    expect(queries.some((q) => q.service === 'shipyard-api' && q.parentSpanId === request.spanId)).toBe(true);
    expect(queries.some((q) => q.service === 'shipyard-worker' && underAnActivity(q))).toBe(true);
    expect(queries.some((q) => q.attributes['db.name'] === new URL(stack.config.tenantDatabaseUrl).pathname.slice(1) && underAnActivity(q))).toBe(true);

    // The request's log line carries the trace's id (and its span's), to go from one to the other.
    const logLine = apiLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l.msg === 'request' && l.route === '/v1/instances');
    expect(logLine).toMatchObject({ method: 'POST', status: 202, traceId: request.traceId, spanId: request.spanId });
    console.log(`the request's log line: ${JSON.stringify(logLine)}`);
  });
});

function describeSpan(span: ReceivedSpan): string {
  const url = urlOf(span);
  if (url) return `${new URL(url).host}${new URL(url).pathname}`;
  if (span.attributes['db.system'] && span.attributes['db.statement']) return String(span.attributes['db.statement']).replace(/\s+/g, ' ').trim().slice(0, 72);
  return '';
}
