// Reading what an OTLP receiver got: spans flattened out of export requests, grouped by trace,
// walked up through their parents, and printed as a tree (the docs show one).
import type { OtlpAttribute, OtlpSpan, OtlpTracesExport } from '../../testbed/components/otel-collector';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP's: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  service: string;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, string | number | boolean>;
  error: boolean;
}

export const SpanKind = { internal: 1, server: 2, client: 3 } as const;

function attributeValue(attribute: OtlpAttribute): string | number | boolean {
  const { stringValue, intValue, boolValue, doubleValue } = attribute.value;
  return stringValue ?? (intValue !== undefined ? Number(intValue) : (boolValue ?? doubleValue ?? ''));
}

function attributes(list: OtlpAttribute[] | undefined): Record<string, string | number | boolean> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, attributeValue(a)]));
}

export function receivedSpans(exports: OtlpTracesExport[]): ReceivedSpan[] {
  return exports.flatMap((request) =>
    request.resourceSpans.flatMap((resourceSpans) => {
      const service = String(attributes(resourceSpans.resource?.attributes)['service.name'] ?? '');
      return resourceSpans.scopeSpans.flatMap((scope) => (scope.spans ?? []).map((span: OtlpSpan) => toSpan(span, service)));
    }),
  );
}

function toSpan(span: OtlpSpan, service: string): ReceivedSpan {
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
    name: span.name,
    kind: span.kind,
    service,
    startNs: BigInt(span.startTimeUnixNano),
    endNs: BigInt(span.endTimeUnixNano),
    attributes: attributes(span.attributes),
    error: span.status?.code === 2,
  };
}

/** The span's ancestors, nearest first, as far as the received spans go. */
export function ancestors(span: ReceivedSpan, spans: ReceivedSpan[]): ReceivedSpan[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const chain: ReceivedSpan[] = [];
  for (let parent = span.parentSpanId && byId.get(span.parentSpanId); parent; parent = parent.parentSpanId && byId.get(parent.parentSpanId)) {
    chain.push(parent);
  }
  return chain;
}

/** A trace as an indented tree, children in start order, with each span's service and duration. */
export function printTrace(spans: ReceivedSpan[], describe: (span: ReceivedSpan) => string = () => ''): string {
  const children = new Map<string | undefined, ReceivedSpan[]>();
  const ids = new Set(spans.map((s) => s.spanId));
  for (const span of [...spans].sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0))) {
    // A span whose parent was not received prints as a root.
    const parent = span.parentSpanId && ids.has(span.parentSpanId) ? span.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const start = spans.reduce((min, s) => (s.startNs < min ? s.startNs : min), spans[0]?.startNs ?? 0n);
  const lines: string[] = [];
  const walk = (parent: string | undefined, depth: number) => {
    for (const span of children.get(parent) ?? []) {
      const offset = Number(span.startNs - start) / 1e6;
      const duration = Number(span.endNs - span.startNs) / 1e6;
      const extra = describe(span);
      lines.push(
        `${'  '.repeat(depth)}${span.name}${extra ? ` ${extra}` : ''}  [${span.service}] +${offset.toFixed(0)}ms ${duration.toFixed(1)}ms${span.error ? ' ERROR' : ''}`,
      );
      walk(span.spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return lines.join('\n');
}
