// `npm run bench:backup [-- --size-mb 500]`: fills a tenant database to about that size, then
// backs it up, restores it and clones it through the API of a Shipyard on the local testbed,
// printing the throughput of each (MB of database per second, and of dump) and how far the
// worker's resident memory grew above where it stood before (it streams: the growth should not
// depend on the size). Removes what it made.
import { parseArgs } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import postgres from 'postgres';
import { loadKubeConfig } from '../activities/kube-config';
import { namespaceFor } from '../domain/instance';
import { rssMiB, startBenchShipyard } from './support';

const { values } = parseArgs({ options: { 'size-mb': { type: 'string', default: '500' } } });
const sizeMb = Number(values['size-mb']);
if (!Number.isFinite(sizeMb) || sizeMb <= 0) throw new Error(`--size-mb must be a positive number, not ${values['size-mb']}`);

const shipyard = await startBenchShipyard({ SHIPYARD_DELETE_GRACE_HOURS: '0' });
const { call, settle } = shipyard;
const kube = loadKubeConfig(shipyard.config.kubeconfig).makeApiClient(CoreV1Api);
const MB = 1_000_000;
const suffix = Date.now().toString(36);
const made: string[] = [];

interface Step {
  name: string;
  startedAt?: string;
  endedAt?: string;
}

async function provision(slug: string, extra: object = {}): Promise<{ steps: Step[] }> {
  const created = await call('POST', '/v1/instances', { name: slug, slug, plan: 'starter', ownerEmail: 'bench@shipyard.test', ...extra });
  if (created.status !== 202) throw new Error(`create ${slug} answered ${created.status}: ${JSON.stringify(created.body)}`);
  made.push(slug);
  return settled(created.body.operation.id);
}

async function settled(operationId: string): Promise<{ steps: Step[] }> {
  const status = await settle(operationId);
  const { body } = await call('GET', `/v1/operations/${operationId}`);
  if (status !== 'succeeded') throw new Error(`operation ${operationId} ${status}: ${body.error}`);
  return body;
}

async function appDatabase(slug: string): Promise<postgres.Sql> {
  const secret = await kube.readNamespacedSecret({ name: 'app-env', namespace: namespaceFor(slug) });
  return postgres(Buffer.from(secret.data!.DATABASE_URL!, 'base64').toString('utf8'), { max: 1, onnotice: () => {} });
}

/** Seconds a step of an operation took, from the times the workflow recorded. */
function stepSeconds(operation: { steps: Step[] }, name: string): number {
  const step = operation.steps.find((s) => s.name === name);
  if (!step?.startedAt || !step.endedAt) throw new Error(`step "${name}" has no times: ${JSON.stringify(step)}`);
  return (Date.parse(step.endedAt) - Date.parse(step.startedAt)) / 1000;
}

/** Runs `body` while sampling the worker's RSS every 100 ms; returns its result and the peak growth. */
async function watchingWorker<T>(body: () => Promise<T>): Promise<{ result: T; rssGrowthMiB: number; rssBaseMiB: number }> {
  const pid = shipyard.worker.child.pid;
  const base = rssMiB(pid);
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 100);
  try {
    const result = await body();
    return { result, rssGrowthMiB: peak - base, rssBaseMiB: base };
  } finally {
    clearInterval(timer);
  }
}

const rows: string[][] = [];
function report(what: string, seconds: number, databaseBytes: number, dumpBytes: number, rss: { rssGrowthMiB: number; rssBaseMiB: number }) {
  rows.push([
    what,
    `${seconds.toFixed(1)} s`,
    `${(databaseBytes / MB / seconds).toFixed(0)} MB/s`,
    `${(dumpBytes / MB / seconds).toFixed(0)} MB/s`,
    `${rss.rssGrowthMiB.toFixed(0)} MiB (from ${rss.rssBaseMiB.toFixed(0)})`,
  ]);
  console.log(`${what}: ${rows.at(-1)!.slice(1).join(', ')}`);
}

try {
  const slug = `bench-bak-${suffix}`;
  await provision(slug);
  const db = await appDatabase(slug);
  // Rows of random hex (compresses about 2:1, like much real data), filled by the server itself.
  console.log(`filling ${slug} with about ${sizeMb} MB`);
  await db`create table filler (id bigint primary key, body text not null)`;
  // 16 independent random digests a row: nothing for the compressor but the hex encoding.
  const randomHex = Array.from({ length: 16 }, () => 'md5(random()::text)').join(' || ');
  const rowBytes = 560;
  const batch = 200_000;
  for (let done = 0; done < (sizeMb * MB) / rowBytes; done += batch) {
    await db`insert into filler select g, ${db.unsafe(randomHex)} from generate_series(${done + 1}::bigint, ${done + batch}::bigint) g`;
  }
  const [size] = await db<{ bytes: string }[]>`select pg_database_size(current_database())::text as bytes`;
  const databaseBytes = Number(size!.bytes);
  await db.end();
  console.log(`database: ${(databaseBytes / MB).toFixed(0)} MB`);

  const backup = await watchingWorker(async () => {
    const started = await call('POST', `/v1/instances/${slug}/backups`);
    if (started.status !== 202) throw new Error(`backup answered ${started.status}: ${JSON.stringify(started.body)}`);
    return settled(started.body.operation.id);
  });
  const { body: page } = await call('GET', `/v1/instances/${slug}/backups?limit=1`);
  const taken = page.items[0] as { id: string; parts: { name: string; sizeBytes: number }[] };
  const dumpBytes = taken.parts.find((p) => p.name === 'database.dump')!.sizeBytes;
  report('dump + upload', stepSeconds(backup.result, 'back up database and configuration'), databaseBytes, dumpBytes, backup);

  const restore = await watchingWorker(async () => {
    const started = await call('POST', `/v1/instances/${slug}/restore`, { backupId: taken.id });
    if (started.status !== 202) throw new Error(`restore answered ${started.status}: ${JSON.stringify(started.body)}`);
    return settled(started.body.operation.id);
  });
  report('download + restore', stepSeconds(restore.result, 'restore into a new database'), databaseBytes, dumpBytes, restore);
  report('verify (download + SHA-256)', stepSeconds(restore.result, 'verify backup'), databaseBytes, dumpBytes, restore);

  const clone = await watchingWorker(() => provision(`bench-clone-${suffix}`, { fromBackup: taken.id }));
  report('clone (download + restore)', stepSeconds(clone.result, 'restore data from backup'), databaseBytes, dumpBytes, clone);

  console.log(`\n${(databaseBytes / MB).toFixed(0)} MB database, ${(dumpBytes / MB).toFixed(0)} MB dump (pg_dump -Fc -Z1)\n`);
  console.log('| step | time | database MB/s | dump MB/s | worker RSS growth |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
} finally {
  for (const slug of made) {
    const res = await call('DELETE', `/v1/instances/${slug}?grace=0`);
    if (res.status === 202) await settle(res.body.operation.id);
  }
  await shipyard.stop();
}
