// `npm run bench:provision [-- N]`: time from `POST /v1/instances` to `ready` for N instances
// (default 5) provisioned one after another on the local testbed; prints each and the median,
// then tears them down again.
import { startBenchShipyard } from './support';

const count = Number(process.argv[2] ?? 5);
const { call, settle, stop } = await startBenchShipyard();

const timings: number[] = [];
const slugs: string[] = [];
try {
  for (let i = 0; i < count; i++) {
    const slug = `bench-${Date.now().toString(36)}-${i}`;
    const started = performance.now();
    const created = await call('POST', '/v1/instances', { name: `Bench ${i}`, slug, plan: 'starter', ownerEmail: 'bench@shipyard.test' });
    if (created.status !== 202) throw new Error(`create answered ${created.status}: ${JSON.stringify(created.body)}`);
    slugs.push(slug);
    const status = await settle(created.body.operation.id);
    const seconds = (performance.now() - started) / 1000;
    if (status !== 'succeeded') throw new Error(`${slug}: provision ${status}`);
    timings.push(seconds);
    console.log(`${slug}: POST → ready in ${seconds.toFixed(2)}s`);
  }
  const sorted = [...timings].sort((a, b) => a - b);
  console.log(`median of ${count}: ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)}s (min ${sorted[0]!.toFixed(2)}s, max ${sorted.at(-1)!.toFixed(2)}s)`);
} finally {
  for (const slug of slugs) {
    const res = await call('DELETE', `/v1/instances/${slug}?grace=0`);
    if (res.status === 202) await settle(res.body.operation.id);
  }
  await stop();
}
