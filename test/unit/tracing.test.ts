// Tracing is off unless an OTLP endpoint is set: then nothing starts, nothing is patched or
// wrapped, and Shipyard's clients are the plain ones.
import http from 'node:http';
import https from 'node:https';
import { trace } from '@opentelemetry/api';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { tracedPostgres } from '../../telemetry/postgres';
import { tracingClientInterceptors } from '../../telemetry/temporal';
import { activeTracing, startTracing, traceLogFields, tracesEndpoint } from '../../telemetry/tracing';

/** shimmer, which OpenTelemetry's instrumentations patch with, marks what it wrapped. */
const patched = (fn: unknown) => typeof fn === 'function' && '__wrapped' in fn;

describe('tracing off', () => {
  it('starts nothing without an endpoint', async () => {
    const env = { OTEL_SERVICE_NAME: 'shipyard-test', OTEL_TRACES_SAMPLER: 'always_on' };
    expect(await startTracing(env, 'shipyard-api')).toBeUndefined();
    expect(activeTracing()).toBeUndefined();
    // No tracer provider registered: spans are the API's no-op ones.
    expect(trace.getTracer('shipyard').startSpan('probe').isRecording()).toBe(false);
    expect(traceLogFields()).toEqual({});
    // No instrumentation patched Node's HTTP.
    for (const fn of [http.request, http.get, https.request, https.get, http.Server.prototype.emit]) expect(patched(fn)).toBe(false);
    // The Temporal client gets no interceptors; the postgres client is returned as it is.
    expect(await tracingClientInterceptors()).toBeUndefined();
    const sql = postgres('postgres://nobody@127.0.0.1:1/none', { max: 1 });
    expect(tracedPostgres(sql)).toBe(sql);
    await sql.end();
  });

  it('follows the OTEL_* rules for on and off', () => {
    expect(tracesEndpoint({})).toBeUndefined();
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBeUndefined();
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe('http://collector:4318');
    // The traces-only endpoint wins over the general one.
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/v1/traces' })).toBe(
      'http://b:4318/v1/traces',
    );
    // The SDK's own off switches turn it off even with an endpoint.
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
  });
});
