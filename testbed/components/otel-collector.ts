// An OpenTelemetry Collector that receives OTLP over HTTP and writes every span it gets to a file
// (OTLP JSON, one export request a line): the real receiver the trace tests send to. Built from
// testbed/go/otelcol (the collector's own modules, the OTLP receiver and contrib's file exporter)
// and cached outside the checkout like the Kubernetes binaries.
//
// Not one of the testbed's standing parts: `infra:up` neither builds nor starts it. A test starts
// one of its own (`startCollector`), on a free port, writing into a directory of its own, and
// stops it when done.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, ensureDir, logFileFor, onPath, portOpen, repoRoot, run, TestbedError, waitFor } from '../runtime';

const NAME = 'otel-collector';
const moduleDir = join(repoRoot, 'testbed', 'go', 'otelcol');

/** The collector release the wrapper module pins (go.mod is the one place it is chosen). */
export function collectorVersion(): string {
  const version = /^\s*go\.opentelemetry\.io\/collector\/otelcol (v\S+)/m.exec(readFileSync(join(moduleDir, 'go.mod'), 'utf8'))?.[1];
  if (!version) throw new TestbedError(NAME, 'testbed/go/otelcol/go.mod does not require go.opentelemetry.io/collector/otelcol');
  return version;
}

/** Keyed by the module's sources and go.sum: a version bump builds anew. */
function buildDir(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(moduleDir).sort()) {
    if (file === 'go.mod' || file === 'go.sum' || file.endsWith('.go')) hash.update(file).update(readFileSync(join(moduleDir, file)));
  }
  return join(cacheDir, 'otelcol', `${collectorVersion()}-${hash.digest('hex').slice(0, 12)}`);
}

let building: Promise<string> | undefined;

/** Path of the collector binary, built when the cache has none (about 2 minutes on 2 cores). */
export async function ensureCollectorBinary(say: (message: string) => void = () => {}): Promise<string> {
  const dir = buildDir();
  const binary = join(dir, 'shipyard-otelcol');
  if (existsSync(binary)) return binary;
  building ??= (async () => {
    if (!onPath('go')) throw new TestbedError(NAME, 'Go is needed to build the OpenTelemetry Collector but is not on PATH');
    const log = logFileFor('otelcol-build');
    say(`building the OpenTelemetry Collector ${collectorVersion()} into ${dir} (cold: ~2 min on 2 cores; log ${log})`);
    const started = Date.now();
    // Per-process output: two test files building at once must not write one file.
    const partial = `${binary}.${process.pid}.partial`;
    ensureDir(dir);
    await run(NAME, 'go', ['build', '-ldflags=-s -w', '-o', partial, '.'], {
      logFile: log,
      cwd: moduleDir,
      // The committed go.sum is the lock file; no VCS stamping (the module sits in the checkout).
      env: { ...process.env, GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=readonly -buildvcs=false`.trim() },
      timeoutMs: 30 * 60_000,
    });
    renameSync(partial, binary);
    say(`built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return binary;
  })().finally(() => {
    building = undefined;
  });
  return building;
}

export interface Collector {
  /** The OTLP/HTTP endpoint, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
  /** The file the received spans are appended to. */
  spansFile: string;
  /** Every export request received so far, as OTLP JSON. */
  exports(): OtlpTracesExport[];
  stop(): Promise<void>;
}

/** An OTLP/JSON traces export request, as the file exporter writes it (ids in hex). */
export interface OtlpTracesExport {
  resourceSpans: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans: { scope?: { name?: string }; spans?: OtlpSpan[] }[];
  }[];
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: OtlpAttribute[];
  status?: { code?: number; message?: string };
}

export interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string; boolValue?: boolean; doubleValue?: number };
}

/** Starts a collector on `port` (OTLP/HTTP on 127.0.0.1) writing into `dir`; builds it first if needed. */
export async function startCollector(options: { dir: string; port: number; say?: (message: string) => void }): Promise<Collector> {
  const binary = await ensureCollectorBinary(options.say);
  ensureDir(options.dir);
  const spansFile = join(options.dir, 'spans.jsonl');
  const configFile = join(options.dir, 'collector.yaml');
  const logFile = join(options.dir, 'collector.log');
  writeFileSync(
    configFile,
    [
      'receivers:',
      '  otlp:',
      '    protocols:',
      '      http:',
      `        endpoint: 127.0.0.1:${options.port}`,
      'exporters:',
      '  file:',
      `    path: ${spansFile}`,
      // Written out promptly: the test reads the file while the collector runs.
      '    flush_interval: 100ms',
      'service:',
      // No metrics server of its own (its default port would collide between test files).
      '  telemetry:',
      '    metrics:',
      '      level: none',
      '    logs:',
      '      level: warn',
      '  pipelines:',
      '    traces:',
      '      receivers: [otlp]',
      '      exporters: [file]',
      '',
    ].join('\n'),
  );
  const out = openSync(logFile, 'a');
  const child = spawn(binary, ['--config', configFile], { stdio: ['ignore', out, out] });
  closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  await waitFor(NAME, `the OTLP receiver on 127.0.0.1:${options.port}`, async () => {
    if (gone) throw new TestbedError(NAME, 'exited at start', undefined, logFile);
    return portOpen(options.port);
  }, { timeoutMs: 30_000, logFile });
  return {
    endpoint: `http://127.0.0.1:${options.port}`,
    spansFile,
    exports() {
      if (!existsSync(spansFile)) return [];
      return readFileSync(spansFile, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as OtlpTracesExport);
    },
    async stop() {
      if (!gone) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
