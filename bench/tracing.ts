// `npm run bench:tracing [-- PROVISIONS READS]`: what tracing costs. Shipyard from the build runs
// twice on the local testbed, tracing off (no OTEL endpoint) then on (exporting to a real
// OpenTelemetry Collector started here); each time PROVISIONS instances (default 3) are
// provisioned one after another and the API answers READS (default 1000) reads of an instance,
// one at a time. Prints, per mode, the provision time and the CPU seconds of API and worker per
// provision, and the API's latency and CPU per read; then tears the instances down.
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCollector } from '../testbed/components/otel-collector';
import { repoRoot } from '../testbed/runtime';
import { receivedSpans } from '../test/support/traces';
import { cpuAccount, startBenchShipyard } from './support';

const provisions = Number(process.argv[2] ?? 3);
const reads = Number(process.argv[3] ?? 1000);
const fromBuild = { command: [process.execPath, join(repoRoot, 'dist', 'shipyard.js')], cwd: repoRoot };

/** A port nothing listens on now, for the collector's receiver. */
const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const collector = await startCollector({ dir: mkdtempSync(join(tmpdir(), 'shipyard-bench-traces-')), port: await freePort(), say: console.log });
try {
  for (const mode of ['off', 'on'] as const) {
    const shipyard = await startBenchShipyard(
      // The default batch delay (5 s): what a deployment would run with.
      // No grace period: the bench's instances are purged when it deletes them. No sweeps on a
      // schedule: they would walk every instance of the shared testbed, in one mode and not the other.
      {
        SHIPYARD_DELETE_GRACE_HOURS: '0',
        SHIPYARD_HEALTH_INTERVAL_SECONDS: '86400',
        SHIPYARD_RECONCILE_INTERVAL_SECONDS: '86400',
        SHIPYARD_BACKUP_SWEEP_INTERVAL_SECONDS: '86400',
        OTEL_EXPORTER_OTLP_ENDPOINT: mode === 'on' ? collector.endpoint : '',
      },
      fromBuild,
    );
    const slugs: string[] = [];
    try {
      const times: number[] = [];
      const cpu = cpuAccount(shipyard);
      for (let i = 0; i < provisions; i++) {
        const slug = `bench-tr-${mode}-${Date.now().toString(36)}-${i}`;
        const started = performance.now();
        const created = await shipyard.call('POST', '/v1/instances', { name: `Bench ${i}`, slug, plan: 'starter', ownerEmail: 'bench@shipyard.test' });
        if (created.status !== 202) throw new Error(`create answered ${created.status}: ${JSON.stringify(created.body)}`);
        slugs.push(slug);
        const status = await shipyard.settle(created.body.operation.id);
        if (status !== 'succeeded') throw new Error(`${slug}: provision ${status}`);
        times.push((performance.now() - started) / 1000);
      }
      const provisionCpu = Object.fromEntries(cpu.since().map(({ name, seconds }) => [name, seconds]));
      const perProvision = ((provisionCpu.api ?? 0) + (provisionCpu.worker ?? 0)) / provisions;

      // Warm up, then one read at a time: latency and the API process's CPU per request.
      for (let i = 0; i < 100; i++) await shipyard.call('GET', `/v1/instances/${slugs[0]}`);
      const readCpu = cpuAccount(shipyard);
      const latencies: number[] = [];
      for (let i = 0; i < reads; i++) {
        const started = performance.now();
        const res = await shipyard.call('GET', `/v1/instances/${slugs[0]}`);
        latencies.push(performance.now() - started);
        if (res.status !== 200) throw new Error(`read answered ${res.status}`);
      }
      const apiCpuMs = ((readCpu.since().find((p) => p.name === 'api')?.seconds ?? 0) * 1000) / reads;
      const mean = latencies.reduce((a, b) => a + b, 0) / reads;
      console.log(
        `tracing ${mode}: provision median ${median(times).toFixed(2)} s, API+worker CPU ${perProvision.toFixed(2)} s per provision; ` +
          `read mean ${mean.toFixed(2)} ms (p50 ${median(latencies).toFixed(2)} ms), API CPU ${apiCpuMs.toFixed(2)} ms per read`,
      );
    } finally {
      for (const slug of slugs) {
        const res = await shipyard.call('DELETE', `/v1/instances/${slug}`);
        if (res.status === 202) await shipyard.settle(res.body.operation.id);
      }
      await shipyard.stop();
    }
  }
  console.log(`collector received ${receivedSpans(collector.exports()).length} spans`);
} finally {
  await collector.stop();
}
