// `npm run demo`: from a fresh machine, bring the testbed up, start Shipyard, provision three
// sample instances with live step progress, show where to look, and keep running until Ctrl-C.
import { appendFileSync } from 'node:fs';
import { createShipyardClient, type Instance, ShipyardProblem, unwrap } from '../client/index';
import { infraUp } from '../testbed/index';
import { logFileFor } from '../testbed/runtime';
import { startShipyard, superviseUntilSignal } from './dev';

const samples = [
  { name: 'Acme Corp', slug: 'acme', plan: 'starter', ownerEmail: 'ops@acme.test' },
  { name: 'Globex', slug: 'globex', plan: 'standard', ownerEmail: 'it@globex.test' },
  { name: 'Initech', slug: 'initech', plan: 'pro', ownerEmail: 'admin@initech.test' },
];

const testbedEnv = await infraUp();
const env: NodeJS.ProcessEnv = { ...testbedEnv, ...process.env };
// Worker and API logs go to files so the progress below stays readable.
const shipyard = await startShipyard(env, (name) => (line) => appendFileSync(logFileFor(`shipyard-${name}`), `${line}\n`));
const { config, baseUrl } = shipyard;
console.log(`\nShipyard is up: API ${baseUrl}; logs in ${logFileFor('shipyard-worker')} and ${logFileFor('shipyard-api')}\n`);

const client = createShipyardClient({ baseUrl, apiKey: config.adminKey! });
/** The instance, or undefined when there is none by that slug. */
async function instanceOrNone(slug: string): Promise<Instance | undefined> {
  return unwrap(client.GET('/v1/instances/{idOrSlug}', { params: { path: { idOrSlug: slug } } })).catch((err: unknown) => {
    if (err instanceof ShipyardProblem && err.is('not-found')) return undefined;
    throw err;
  });
}

// Start (or pick up) each sample; a rerun of the demo finds the instances it made before.
const watched: { slug: string; operationId: string }[] = [];
const demoSlugs: string[] = [];
for (const sample of samples) {
  const existing = await instanceOrNone(sample.slug);
  // A deleting instance waits out its grace period (days): the demo makes a new one beside it.
  if (existing && !['deleted', 'deleting', 'failed'].includes(existing.status)) {
    console.log(`${sample.slug}: already ${existing.status}`);
    demoSlugs.push(sample.slug);
    if (existing.currentOperation) watched.push({ slug: sample.slug, operationId: existing.currentOperation.id });
    continue;
  }
  const slug = existing ? `${sample.slug}-${Date.now().toString(36).slice(-4)}` : sample.slug;
  const created = await unwrap(client.POST('/v1/instances', { body: { ...sample, slug } }));
  console.log(`${slug}: provisioning (operation ${created.operation.id})`);
  watched.push({ slug, operationId: created.operation.id });
  demoSlugs.push(slug);
}

// Live progress: one line each time a step changes state.
const started = Date.now();
const seen = new Map<string, string>();
let pending = [...watched];
while (pending.length > 0) {
  const next: typeof pending = [];
  for (const w of pending) {
    const op = await unwrap(client.GET('/v1/operations/{id}', { params: { path: { id: w.operationId } } }));
    for (const step of op.steps) {
      const key = `${w.operationId}/${step.name}`;
      if (seen.get(key) === step.status || step.status === 'pending') continue;
      seen.set(key, step.status);
      const mark = { running: '…', done: '✓', failed: '✗', compensated: '↺' }[step.status];
      const took = step.startedAt && step.endedAt ? ` (${((Date.parse(step.endedAt) - Date.parse(step.startedAt)) / 1000).toFixed(1)}s)` : '';
      console.log(`  ${w.slug.padEnd(10)} ${mark} ${step.name}${took}${step.error ? ` — ${step.error}` : ''}`);
    }
    if (op.status === 'running') next.push(w);
    else console.log(`${w.slug}: ${op.kind} ${op.status}${op.error ? ` — ${op.error}` : ''} after ${((Date.now() - started) / 1000).toFixed(1)}s`);
  }
  pending = next;
  // Once a second: three operations polled stay well under the admin key's rate limit (SHIPYARD_RATE_LIMIT_ADMIN).
  if (pending.length > 0) await new Promise((r) => setTimeout(r, 1000));
}

const instances: Instance[] = [];
for (const slug of demoSlugs) instances.push(await unwrap(client.GET('/v1/instances/{idOrSlug}', { params: { path: { idOrSlug: slug } } })));
console.log('\nThe demo\'s instances (all of them: GET /v1/instances):');
const columns = ['slug', 'status', 'plan', 'version', 'hostname', 'namespace'] as const;
const widths = columns.map((c) => Math.max(c.length, ...instances.map((i) => String(i[c] ?? '').length)));
console.log(columns.map((c, i) => c.toUpperCase().padEnd(widths[i]!)).join('  '));
for (const item of instances) console.log(columns.map((c, i) => String(item[c] ?? '').padEnd(widths[i]!)).join('  '));

console.log(`
Dashboard:    ${baseUrl}/ui/    (sign in with an API key, e.g. SHIPYARD_ADMIN_KEY in .shipyard/env)
API docs:     ${baseUrl}/docs   (key: SHIPYARD_ADMIN_KEY in .shipyard/env)
Temporal UI:  ${env.TEMPORAL_UI_URL ?? '(external Temporal)'}
kubectl:      KUBECONFIG=${env.KUBECONFIG ?? ''} (namespaces tenant-<slug>)
Ctrl-C stops Shipyard (the testbed keeps running; \`npm run infra:down\` stops it).`);

superviseUntilSignal(shipyard, (name) => `; see ${logFileFor(`shipyard-${name}`)}`);
