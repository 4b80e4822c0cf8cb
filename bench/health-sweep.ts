// `npm run bench:health-sweep [-- N]`: provisions N instances (default 100, ten at a time) on the
// local testbed, times one health sweep over them (POST /v1/health/sweeps → succeeded) while
// sampling the worker's resident memory, then tears them down again. The sweep covers every
// ready or suspended instance in the catalogue, so other instances there are counted too.
import { rssMiB, startBenchShipyard } from './support';

const count = Number(process.argv[2] ?? 100);
// Only the sweep this bench starts.
const shipyard = await startBenchShipyard({ SHIPYARD_HEALTH_INTERVAL_SECONDS: '86400' });
const { call, settle } = shipyard;
const workerRssMiB = () => rssMiB(shipyard.worker.child.pid);

const slugs: string[] = [];
const run = Date.now().toString(36);
try {
  const provisionStarted = performance.now();
  for (let i = 0; i < count; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, count - i) }, async (_, j) => {
        const slug = `sweep-${run}-${i + j}`;
        const created = await call('POST', '/v1/instances', { name: `Sweep ${i + j}`, slug, plan: 'starter', ownerEmail: 'bench@shipyard.test' });
        if (created.status !== 202) throw new Error(`create answered ${created.status}: ${JSON.stringify(created.body)}`);
        slugs.push(slug);
        const status = await settle(created.body.operation.id);
        if (status !== 'succeeded') throw new Error(`${slug}: provision ${status}`);
      }),
    );
  }
  console.log(`${count} instances provisioned in ${((performance.now() - provisionStarted) / 1000).toFixed(1)}s`);

  const before = workerRssMiB();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, workerRssMiB())), 200);
  const started = performance.now();
  const { body } = await call('POST', '/v1/health/sweeps');
  let sweep = body.sweep;
  while (sweep.status === 'running') {
    await new Promise((r) => setTimeout(r, 250));
    sweep = (await call('GET', `/v1/health/sweeps/${sweep.id}`)).body;
  }
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `sweep ${sweep.status} in ${seconds.toFixed(1)}s: checked ${sweep.checked}, healthy ${sweep.healthy}, degraded ${sweep.degraded}, ` +
      `unhealthy ${sweep.unhealthy}, healed ${sweep.healed}, errors ${sweep.errors}; ` +
      `worker RSS ${before.toFixed(0)} MiB before, ${peak.toFixed(0)} MiB peak (parallelism ${shipyard.config.healthParallelism})`,
  );
} finally {
  for (let i = 0; i < slugs.length; i += 10) {
    await Promise.all(
      slugs.slice(i, i + 10).map(async (slug) => {
        const res = await call('DELETE', `/v1/instances/${slug}?grace=0`);
        if (res.status === 202) await settle(res.body.operation.id);
      }),
    );
  }
  await shipyard.stop();
}
