// `shipyard <resource> <verb>`: the operator's commands, each a call or two of the typed client.
// Results print as a table on a terminal and as JSON lines when piped (`-o` chooses); commands
// that start an operation take `--wait` to follow it to its end, with its steps live.
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  createShipyardClient,
  type Instance,
  type Operation,
  type Rollout,
  type Schemas,
  type ShipyardClient,
  unwrap,
} from '../../client/index';
import { UsageError, WorkFailed } from './exit-codes';
import { followOperation, sleep } from './operation-stream';
import { plainProgress, terminalProgress, stepDuration } from './operation-progress';
import { type Column, defaultOutput, formatList, formatOne, formatTable, type OutputFormat, outputFormats } from './output';
import { type Connection, configPath, maskKey, readProfiles, resolveConnection, setProfile, writeProfiles } from './profiles';
import { plainRolloutProgress, rolloutEnded, terminalRolloutProgress, waveName } from './rollout-progress';

interface GlobalOptions {
  profile?: string;
  output?: OutputFormat;
}

/** What every command's action gets: the connection, the client and how to print. */
export interface Context {
  connection: Connection;
  client: ShipyardClient;
  output: OutputFormat;
  /** Results: stdout. */
  print(text: string): void;
  /** Progress and hints: stdout for people, stderr when stdout is for a program (json/yaml). */
  note(text: string): void;
  /** Live (listr2) progress: only for people at a terminal. */
  live: boolean;
}

export function contextOf(command: Command, env: NodeJS.ProcessEnv = process.env): Context {
  const options = command.optsWithGlobals<GlobalOptions>();
  const connection = resolveConnection(env, readProfiles(configPath(env)), options.profile);
  const client = createShipyardClient({ baseUrl: connection.url, apiKey: connection.key, userAgent: 'shipyard-cli' });
  const output = options.output ?? defaultOutput(Boolean(process.stdout.isTTY));
  const forPeople = output === 'table';
  return {
    connection,
    client,
    output,
    print: (text) => {
      if (text) process.stdout.write(`${text}\n`);
    },
    note: (text) => (forPeople ? process.stdout : process.stderr).write(`${text}\n`),
    live: forPeople && Boolean(process.stdout.isTTY) && !env.CI,
  };
}

// ---- columns

const ago = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');

const instanceColumns: Column<Instance>[] = [
  { header: 'slug', value: (i) => i.slug },
  { header: 'status', value: (i) => i.status },
  { header: 'health', value: (i) => i.health },
  { header: 'plan', value: (i) => i.plan },
  { header: 'version', value: (i) => i.version },
  { header: 'hostname', value: (i) => i.hostname },
  { header: 'cluster', value: (i) => i.cluster },
  { header: 'operation', value: (i) => (i.currentOperation ? `${i.currentOperation.kind} ${i.currentOperation.id}` : '') },
];
const operationColumns: Column<Operation>[] = [
  { header: 'id', value: (o) => o.id },
  { header: 'kind', value: (o) => o.kind },
  { header: 'status', value: (o) => o.status },
  { header: 'actor', value: (o) => o.actor },
  { header: 'started', value: (o) => ago(o.startedAt) },
  { header: 'ended', value: (o) => ago(o.endedAt) },
  { header: 'error', value: (o) => o.error },
];
const stepColumns: Column<Operation['steps'][number]>[] = [
  { header: 'step', value: (s) => s.name },
  { header: 'status', value: (s) => s.status },
  { header: 'took', value: (s) => stepDuration(s) },
  { header: 'attempt', value: (s) => (s.attempt > 1 ? s.attempt : '') },
  { header: 'detail', value: (s) => s.error ?? s.detail },
];
type RolloutListItem = Schemas['RolloutPage']['items'][number];
const rolloutColumns: Column<RolloutListItem>[] = [
  { header: 'id', value: (r) => r.id },
  { header: 'version', value: (r) => r.version },
  { header: 'status', value: (r) => r.status },
  { header: 'started', value: (r) => ago(r.startedAt) },
  { header: 'ended', value: (r) => ago(r.endedAt) },
];
const waveColumns = (rollout: Rollout): Column<Rollout['waves'][number]>[] => [
  { header: 'wave', value: (w) => waveName(w, rollout) },
  { header: 'status', value: (w) => w.status },
  { header: 'size', value: (w) => w.size },
  { header: 'succeeded', value: (w) => w.counts.succeeded },
  { header: 'running', value: (w) => w.counts.running },
  { header: 'rolled back', value: (w) => w.counts.rolledBack },
  { header: 'failed', value: (w) => w.counts.failed },
  { header: 'skipped', value: (w) => w.counts.skipped },
];
const eventColumns: Column<Schemas['Event']>[] = [
  { header: 'id', value: (e) => e.id },
  { header: 'at', value: (e) => ago(e.at) },
  { header: 'actor', value: (e) => e.actor },
  { header: 'action', value: (e) => e.action },
  { header: 'outcome', value: (e) => e.outcome },
  { header: 'operation', value: (e) => e.operationId },
  { header: 'message', value: (e) => e.message },
];
const usageColumns: Column<Schemas['UsageLine']>[] = [
  { header: 'meter', value: (l) => l.meter },
  { header: 'plan', value: (l) => l.plan },
  { header: 'quantity', value: (l) => l.quantity },
  { header: 'unit', value: (l) => l.unit },
  { header: 'amount', value: (l) => cents(l.amountCents) },
];
const backupColumns: Column<Schemas['Backup']>[] = [
  { header: 'id', value: (b) => b.id },
  { header: 'kind', value: (b) => b.kind },
  { header: 'status', value: (b) => b.status },
  { header: 'size', value: (b) => bytes(b.sizeBytes) },
  { header: 'version', value: (b) => b.appVersion },
  { header: 'started', value: (b) => ago(b.startedAt) },
  { header: 'completed', value: (b) => ago(b.completedAt) },
  { header: 'error', value: (b) => b.error },
];
const sweepColumns: Column<Schemas['Sweep']>[] = [
  { header: 'id', value: (s) => s.id },
  { header: 'status', value: (s) => s.status },
  { header: 'checked', value: (s) => s.checked },
  { header: 'healthy', value: (s) => s.healthy },
  { header: 'degraded', value: (s) => s.degraded },
  { header: 'unhealthy', value: (s) => s.unhealthy },
  { header: 'healed', value: (s) => s.healed },
  { header: 'errors', value: (s) => s.errors },
  { header: 'offline clusters', value: (s) => s.offlineClusters.map((c) => c.name).join(',') },
  { header: 'started', value: (s) => ago(s.startedAt) },
];
const orphanColumns: Column<Schemas['Orphan']>[] = [
  { header: 'kind', value: (o) => o.kind },
  { header: 'name', value: (o) => o.name },
  { header: 'slug', value: (o) => o.slug },
  { header: 'cluster', value: (o) => o.cluster },
  { header: 'removed', value: (o) => (o.removed ? 'yes' : 'no') },
];
const checkColumns: Column<Schemas['HealthReport']['checks'][number]>[] = [
  { header: 'check', value: (c) => c.name },
  { header: 'status', value: (c) => c.status },
  { header: 'critical', value: (c) => (c.critical ? 'yes' : '') },
  { header: 'detail', value: (c) => c.detail },
];
const invoiceColumns: Column<Schemas['InvoiceSummary']>[] = [
  { header: 'id', value: (i) => i.id },
  { header: 'number', value: (i) => i.number },
  { header: 'owner', value: (i) => i.ownerEmail },
  { header: 'period', value: (i) => i.period },
  { header: 'status', value: (i) => i.status },
  { header: 'subtotal', value: (i) => `${cents(i.subtotalCents)} ${i.currency}` },
];
const invoiceLineColumns: Column<Schemas['InvoiceLine']>[] = [
  { header: '#', value: (l) => l.position },
  { header: 'kind', value: (l) => l.kind },
  { header: 'slug', value: (l) => l.slug },
  { header: 'plan', value: (l) => l.plan },
  { header: 'meter', value: (l) => l.meter },
  { header: 'hours', value: (l) => l.hours },
  { header: 'amount', value: (l) => cents(l.amountCents) },
];
const keyColumns: Column<Schemas['ApiKey']>[] = [
  { header: 'id', value: (k) => k.id },
  { header: 'name', value: (k) => k.name },
  { header: 'role', value: (k) => k.role },
  { header: 'prefix', value: (k) => k.prefix },
  { header: 'owner', value: (k) => k.owner },
  { header: 'created', value: (k) => ago(k.createdAt) },
  { header: 'revoked', value: (k) => ago(k.revokedAt) },
];
const webhookColumns: Column<Schemas['Webhook']>[] = [
  { header: 'id', value: (w) => w.id },
  { header: 'url', value: (w) => w.url },
  { header: 'events', value: (w) => w.events.join(',') },
  { header: 'description', value: (w) => w.description },
];
const deliveryColumns: Column<Schemas['Delivery']>[] = [
  { header: 'id', value: (d) => d.id },
  { header: 'type', value: (d) => d.type },
  { header: 'status', value: (d) => d.status },
  { header: 'attempts', value: (d) => d.attempts },
  { header: 'last code', value: (d) => d.lastStatusCode },
  { header: 'created', value: (d) => ago(d.createdAt) },
  { header: 'error', value: (d) => d.lastError },
];
const planColumns: Column<Schemas['Plan']>[] = [
  { header: 'name', value: (p) => p.name },
  { header: 'cpu', value: (p) => p.cpu },
  { header: 'memory', value: (p) => p.memory },
  { header: 'replicas', value: (p) => p.replicas },
  { header: 'per hour', value: (p) => cents(p.pricePerHourCents) },
  { header: 'suspended', value: (p) => cents(p.suspendedPricePerHourCents) },
];

const clusterColumns: Column<Schemas['Cluster']>[] = [
  { header: 'name', value: (c) => c.name },
  { header: 'region', value: (c) => c.region },
  { header: 'status', value: (c) => c.status },
  { header: 'instances', value: (c) => c.instanceCount },
  { header: 'free cpu', value: (c) => (c.capacity ? c.capacity.free.cpu.toFixed(1) : '') },
  { header: 'free memory', value: (c) => (c.capacity ? bytes(c.capacity.free.memoryBytes) : '') },
  { header: 'reported', value: (c) => ago(c.reportedAt) },
];

const cents = (value: number) => (value / 100).toFixed(2);
const bytes = (value: number) =>
  value < 1024 ? `${value} B` : value < 1024 ** 2 ? `${(value / 1024).toFixed(1)} KiB` : value < 1024 ** 3 ? `${(value / 1024 ** 2).toFixed(1)} MiB` : `${(value / 1024 ** 3).toFixed(2)} GiB`;

// ---- option parsers

const positiveInt = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} is a whole number`);
  return Number(value);
};
const list = (value: string) => value.split(',').map((v) => v.trim()).filter(Boolean);

// ---- shared behaviour

function printPage<T>(ctx: Context, page: { items: T[]; nextCursor?: string | null }, columns: Column<T>[]): void {
  if (ctx.output === 'table' && page.items.length === 0) {
    ctx.note('(none)');
    return;
  }
  ctx.print(formatList(page.items, ctx.output, columns));
  if (page.nextCursor) ctx.note(`more: --cursor ${page.nextCursor}`);
}

function printOperationStarted(ctx: Context, operation: Operation, label: string): void {
  if (ctx.output !== 'table') return ctx.print(formatOne(operation, ctx.output));
  ctx.print(`${label}: ${operation.kind} ${operation.id} ${operation.status}`);
  if (operation.temporalUiUrl) ctx.print(`temporal: ${operation.temporalUiUrl}`);
  ctx.note(`watch it: shipyard operations watch ${operation.id}`);
}

/** Follows an operation to its end with live progress; throws WorkFailed unless it succeeded. */
export async function watchOperation(ctx: Context, operationId: string, instance?: string): Promise<Operation> {
  const view = ctx.live ? terminalProgress(instance) : plainProgress(ctx.note, instance);
  const stop = new AbortController();
  const interrupted = () => {
    stop.abort();
    view.stop();
    process.stderr.write(`\nstopped watching; operation ${operationId} goes on (\`shipyard operations watch ${operationId}\`)\n`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  try {
    let final: Operation | undefined;
    for await (const update of followOperation(ctx.connection, ctx.client, operationId, {
      signal: stop.signal,
      onFallback: (reason) => {
        if (process.env.SHIPYARD_DEBUG) ctx.note(`(polling: ${reason})`);
      },
    })) {
      if (update.type !== 'operation') continue;
      if (update.final) {
        final = update.operation;
        break;
      }
      view.update(update.operation);
    }
    if (!final) throw new Error(`the watch of operation ${operationId} ended before the operation did`);
    await view.end(final);
    if (ctx.output !== 'table') ctx.print(formatOne(final, ctx.output));
    // The outcome line above said why; the error line says only what, for logs that keep stderr alone.
    if (final.status !== 'succeeded') throw new WorkFailed(`${final.kind} ${final.id} ${final.status.replace('_', ' ')}`);
    return final;
  } finally {
    process.off('SIGINT', interrupted);
  }
}

/** An operation a command started: followed with --wait, else printed with how to follow it. */
async function started(ctx: Context, operation: Operation, wait: boolean | undefined, label: string): Promise<void> {
  if (wait) await watchOperation(ctx, operation.id, label);
  else printOperationStarted(ctx, operation, label);
}

async function watchRollout(ctx: Context, id: string, pollMs = 1000): Promise<Rollout> {
  const view = ctx.live ? terminalRolloutProgress() : plainRolloutProgress(ctx.note);
  process.once('SIGINT', () => {
    view.stop();
    process.stderr.write(`\nstopped watching; rollout ${id} goes on (\`shipyard rollouts watch ${id}\`)\n`);
    process.exit(130);
  });
  for (;;) {
    const rollout = await unwrap(ctx.client.GET('/v1/rollouts/{id}', { params: { path: { id } } }));
    if (rolloutEnded(rollout.status)) {
      await view.end(rollout);
      if (ctx.output !== 'table') ctx.print(formatOne(rollout, ctx.output));
      if (rollout.status !== 'succeeded') throw new WorkFailed(`rollout ${rollout.id} ${rollout.status}`);
      return rollout;
    }
    view.update(rollout);
    await sleep(pollMs);
  }
}

type Action = (ctx: Context, ...args: never[]) => Promise<void>;

/** Wraps an action: builds the context from the global options first. */
function run(action: Action) {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    await (action as (ctx: Context, ...rest: unknown[]) => Promise<void>)(contextOf(command), ...args.slice(0, -1));
  };
}

const waitOption = () => new Option('-w, --wait', 'follow the operation to its end with live progress; exit 0 only if it succeeds');
const pageOptions = (command: Command) =>
  command
    .option('--limit <n>', 'items per page (1-100)', positiveInt('--limit'))
    .option('--cursor <cursor>', 'the page after the one that printed this cursor');

// ---- the commands

export function addOperatorCommands(program: Command): void {
  program.addOption(new Option('-o, --output <format>', 'table, json (JSON lines) or yaml; a table on a terminal, json when piped').choices(outputFormats));
  program.option('-p, --profile <name>', 'a profile saved with `shipyard config set-profile` (default: SHIPYARD_API_URL/KEY, else the current profile)');

  const instances = program.command('instances').alias('instance').description('customer instances and the operations that change them');
  pageOptions(
    instances
      .command('list')
      .description('list instances, oldest first')
      .addOption(new Option('--status <status>', 'only instances in this status'))
      .addOption(new Option('--health <health>', 'only instances with this health').choices(['unknown', 'healthy', 'degraded', 'unhealthy'])),
  ).action(
    run(async (ctx, options: { status?: Instance['status']; health?: Instance['health']; limit?: number; cursor?: string }) => {
      const page = await unwrap(ctx.client.GET('/v1/instances', { params: { query: options } }));
      printPage(ctx, page, instanceColumns);
    }),
  );
  instances
    .command('get <instance>')
    .description('one instance (id or slug), with its running operation')
    .action(
      run(async (ctx, idOrSlug: string) => {
        const instance = await unwrap(ctx.client.GET('/v1/instances/{idOrSlug}', { params: { path: { idOrSlug } } }));
        ctx.print(formatOne(instance, ctx.output, instanceColumns));
        if (ctx.output === 'table' && instance.currentOperation) ctx.note(`running: ${instance.currentOperation.kind} ${instance.currentOperation.id} (shipyard operations watch ${instance.currentOperation.id})`);
      }),
    );
  instances
    .command('create')
    .description('provision a new instance')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--plan <plan>', 'a plan (shipyard plans list)')
    .requiredOption('--owner-email <email>', 'the billing owner')
    .option('--slug <slug>', 'its slug (default: derived from the name)')
    .option('--version <version>', 'the app version (default: the configured one)')
    .addOption(waitOption())
    .action(
      run(async (ctx, o: { name: string; plan: string; ownerEmail: string; slug?: string; version?: string; wait?: boolean }) => {
        const created = await unwrap(
          ctx.client.POST('/v1/instances', {
            body: { name: o.name, plan: o.plan, ownerEmail: o.ownerEmail, ...(o.slug ? { slug: o.slug } : {}), ...(o.version ? { version: o.version } : {}) },
          }),
        );
        await started(ctx, created.operation, o.wait, created.instance.slug);
        if (o.wait && ctx.output === 'table') {
          const instance = await unwrap(ctx.client.GET('/v1/instances/{idOrSlug}', { params: { path: { idOrSlug: created.instance.slug } } }));
          ctx.print(formatTable([instance], instanceColumns));
        }
      }),
    );
  instances
    .command('upgrade <instance>')
    .description('upgrade an instance to another app version (rolled back if it does not become ready)')
    .requiredOption('--version <version>', 'the version to run')
    .addOption(waitOption())
    .action(
      run(async (ctx, idOrSlug: string, o: { version: string; wait?: boolean }) => {
        const { operation } = await unwrap(ctx.client.POST('/v1/instances/{idOrSlug}/upgrade', { params: { path: { idOrSlug } }, body: { version: o.version } }));
        await started(ctx, operation, o.wait, idOrSlug);
      }),
    );
  for (const [verb, path, description] of [
    ['suspend', '/v1/instances/{idOrSlug}/suspend', 'suspend an instance (scale it to zero)'],
    ['resume', '/v1/instances/{idOrSlug}/resume', 'resume a suspended instance'],
    ['undelete', '/v1/instances/{idOrSlug}/undelete', 'take back a delete during its grace period'],
    ['rotate-credentials', '/v1/instances/{idOrSlug}/rotate-credentials', "rotate an instance's database password and app secret"],
  ] as const) {
    instances
      .command(`${verb} <instance>`)
      .description(description)
      .addOption(waitOption())
      .action(
        run(async (ctx, idOrSlug: string, o: { wait?: boolean }) => {
          const { operation } = await unwrap(ctx.client.POST(path, { params: { path: { idOrSlug } } }));
          await started(ctx, operation, o.wait, idOrSlug);
        }),
      );
  }
  instances
    .command('change-plan <instance>')
    .description('move an instance to another plan')
    .requiredOption('--plan <plan>', 'the new plan')
    .addOption(waitOption())
    .action(
      run(async (ctx, idOrSlug: string, o: { plan: string; wait?: boolean }) => {
        const { operation } = await unwrap(ctx.client.POST('/v1/instances/{idOrSlug}/plan', { params: { path: { idOrSlug } }, body: { plan: o.plan } }));
        await started(ctx, operation, o.wait, idOrSlug);
      }),
    );
  instances
    .command('move <instance>')
    .description('move an instance, with its data, DNS name and certificate, to another cluster')
    .requiredOption('--cluster <name>', 'the cluster to move it to (shipyard clusters list)')
    .addOption(waitOption())
    .action(
      run(async (ctx, idOrSlug: string, o: { cluster: string; wait?: boolean }) => {
        const { operation } = await unwrap(ctx.client.POST('/v1/instances/{idOrSlug}/move', { params: { path: { idOrSlug } }, body: { cluster: o.cluster } }));
        await started(ctx, operation, o.wait, idOrSlug);
      }),
    );
  instances
    .command('delete <instance>')
    .description('delete an instance: it stops serving now and is purged after the grace period (undelete takes it back)')
    .option('--grace <hours>', 'hours before the purge, instead of the configured grace (admin only; 0 = purge now)', positiveInt('--grace'))
    .addOption(waitOption())
    .action(
      run(async (ctx, idOrSlug: string, o: { grace?: number; wait?: boolean }) => {
        const { operation } = await unwrap(
          ctx.client.DELETE('/v1/instances/{idOrSlug}', { params: { path: { idOrSlug }, query: o.grace === undefined ? {} : { grace: String(o.grace) } } }),
        );
        await started(ctx, operation, o.wait, idOrSlug);
      }),
    );
  pageOptions(instances.command('events <instance>').description("an instance's audit trail, oldest first")).action(
    run(async (ctx, idOrSlug: string, o: { limit?: number; cursor?: string }) => {
      printPage(ctx, await unwrap(ctx.client.GET('/v1/instances/{idOrSlug}/events', { params: { path: { idOrSlug }, query: o } })), eventColumns);
    }),
  );
  pageOptions(instances.command('operations <instance>').description("an instance's operations, newest first")).action(
    run(async (ctx, idOrSlug: string, o: { limit?: number; cursor?: string }) => {
      printPage(ctx, await unwrap(ctx.client.GET('/v1/instances/{idOrSlug}/operations', { params: { path: { idOrSlug }, query: o } })), operationColumns);
    }),
  );
  instances
    .command('usage <instance>')
    .description('what an instance used in a period, priced (default: this month)')
    .option('--from <time>', 'ISO 8601 start')
    .option('--to <time>', 'ISO 8601 end')
    .action(
      run(async (ctx, idOrSlug: string, o: { from?: string; to?: string }) => {
        const usage = await unwrap(ctx.client.GET('/v1/instances/{idOrSlug}/usage', { params: { path: { idOrSlug }, query: o } }));
        if (ctx.output !== 'table') return ctx.print(formatOne(usage, ctx.output));
        ctx.print(formatTable(usage.lines, usageColumns));
        ctx.print(`total ${cents(usage.totalCents)} ${usage.currency} (${ago(usage.from)} → ${ago(usage.to)}; metered until ${ago(usage.meteredUntil)})`);
      }),
    );

  const operations = program.command('operations').alias('operation').description('operations: what runs on an instance, step by step');
  operations
    .command('get <id>')
    .description('one operation, with its steps')
    .action(
      run(async (ctx, id: string) => {
        const operation = (await unwrap(ctx.client.GET('/v1/operations/{id}', { params: { path: { id } } }))) as Operation;
        if (ctx.output !== 'table') return ctx.print(formatOne(operation, ctx.output));
        ctx.print(formatTable([operation], operationColumns));
        ctx.print('');
        ctx.print(formatTable(operation.steps, stepColumns));
        if (operation.temporalUiUrl) ctx.print(`\ntemporal: ${operation.temporalUiUrl}`);
      }),
    );
  operations
    .command('watch <id>')
    .description('follow an operation to its end, step by step; exit 0 if it succeeds, 1 if it fails, is rolled back or cancelled')
    .action(
      run(async (ctx, id: string) => {
        await watchOperation(ctx, id);
      }),
    );
  operations
    .command('cancel <id>')
    .description('ask a running operation to stop; it undoes what it did and ends cancelled')
    .addOption(new Option('-w, --wait', 'follow the undo to the end (exit 1: cancelled)'))
    .action(
      run(async (ctx, id: string, o: { wait?: boolean }) => {
        const { operation } = await unwrap(ctx.client.POST('/v1/operations/{id}/cancel', { params: { path: { id } } }));
        if (o.wait) await watchOperation(ctx, operation.id);
        else if (ctx.output === 'table') ctx.print(`cancellation of ${operation.kind} ${operation.id} requested`);
        else ctx.print(formatOne(operation, ctx.output));
      }),
    );

  const rollouts = program.command('rollouts').alias('rollout').description('fleet rollouts of a version, in waves');
  rollouts
    .command('start')
    .description('roll a version out to the fleet: a canary, then waves (with --wave-by region, region after region)')
    .requiredOption('--version <version>', 'the version to roll out')
    .option('--plans <plans>', 'only instances on these plans (comma-separated)', list)
    .option('--slugs <slugs>', 'only these instances (comma-separated)', list)
    .option('--versions <versions>', 'only instances now at these versions (comma-separated)', list)
    .option('--clusters <clusters>', 'multi-cluster: only instances in these clusters (comma-separated)', list)
    .option('--regions <regions>', 'multi-cluster: only instances in these regions (comma-separated; with --wave-by region, their order)', list)
    .option('--wave-by <what>', "'region': one region after the other, in the order of --regions, the canary and waves within each", (v) => {
      if (v !== 'region') throw new InvalidArgumentError("only 'region' is supported");
      return v as 'region';
    })
    .option('--canary <n>', 'instances upgraded before any wave (default 1)', positiveInt('--canary'))
    .option('--waves <percents>', 'cumulative % of the fleet per wave, ending at 100 (default 10,50,100)', (v) => list(v).map(positiveInt('--waves')))
    .option('--max-parallel <n>', 'upgrades in flight at most (default 10)', positiveInt('--max-parallel'))
    .option('--failure-budget <n>', 'failed or rolled-back upgrades tolerated (default 0)', positiveInt('--failure-budget'))
    .option('--pause-after-canary', 'pause once the canary is done')
    .option('--pause-between-regions', 'with --wave-by region: pause once a region is done, before the next starts')
    .option('-w, --wait', 'follow the rollout to its end; exit 0 only if it succeeds')
    .action(
      run(
        async (
          ctx,
          o: { version: string; plans?: string[]; slugs?: string[]; versions?: string[]; clusters?: string[]; regions?: string[]; waveBy?: 'region'; canary?: number; waves?: number[]; maxParallel?: number; failureBudget?: number; pauseAfterCanary?: boolean; pauseBetweenRegions?: boolean; wait?: boolean },
        ) => {
          const selector = {
            ...(o.plans ? { plans: o.plans } : {}),
            ...(o.slugs ? { slugs: o.slugs } : {}),
            ...(o.versions ? { versions: o.versions } : {}),
            ...(o.clusters ? { clusters: o.clusters } : {}),
            ...(o.regions ? { regions: o.regions } : {}),
          };
          const strategy = {
            ...(o.waveBy ? { waveBy: o.waveBy } : {}),
            ...(o.canary !== undefined ? { canary: o.canary } : {}),
            ...(o.waves ? { waves: o.waves } : {}),
            ...(o.maxParallel !== undefined ? { maxParallel: o.maxParallel } : {}),
            ...(o.failureBudget !== undefined ? { failureBudget: o.failureBudget } : {}),
            ...(o.pauseAfterCanary ? { pauseAfterCanary: true } : {}),
            ...(o.pauseBetweenRegions ? { pauseBetweenRegions: true } : {}),
          };
          const { rollout } = await unwrap(ctx.client.POST('/v1/rollouts', { body: { version: o.version, selector, strategy } }));
          if (o.wait) {
            await watchRollout(ctx, rollout.id);
            return;
          }
          if (ctx.output !== 'table') return ctx.print(formatOne(rollout, ctx.output));
          ctx.print(`rollout ${rollout.id} of ${rollout.version}: ${rollout.counts.total} instances, ${rollout.status}`);
          ctx.note(`watch it: shipyard rollouts watch ${rollout.id}`);
        },
      ),
    );
  pageOptions(rollouts.command('list').description('rollouts, newest first')).action(
    run(async (ctx, o: { limit?: number; cursor?: string }) => {
      printPage(ctx, await unwrap(ctx.client.GET('/v1/rollouts', { params: { query: o } })), rolloutColumns);
    }),
  );
  rollouts
    .command('get <id>')
    .description('one rollout: its waves, counts and failures')
    .action(
      run(async (ctx, id: string) => {
        const rollout = await unwrap(ctx.client.GET('/v1/rollouts/{id}', { params: { path: { id } } }));
        printRollout(ctx, rollout);
      }),
    );
  rollouts
    .command('watch <id>')
    .description('follow a rollout wave by wave; exit 0 if it succeeds, 1 if it fails or is aborted')
    .action(
      run(async (ctx, id: string) => {
        await watchRollout(ctx, id);
      }),
    );
  for (const [verb, description] of [
    ['pause', 'pause: no new upgrades start; those in flight finish'],
    ['abort', 'abort: no new upgrades start; those in flight finish; ends aborted'],
  ] as const) {
    rollouts
      .command(`${verb} <id>`)
      .description(description)
      .action(
        run(async (ctx, id: string) => {
          printRollout(ctx, await unwrap(ctx.client.POST(`/v1/rollouts/{id}/${verb}`, { params: { path: { id } } })));
        }),
      );
  }
  rollouts
    .command('resume <id>')
    .description('resume a paused or halted rollout')
    .option('--failure-budget <n>', 'a new failure budget (to go on after a halt)', positiveInt('--failure-budget'))
    .action(
      run(async (ctx, id: string, o: { failureBudget?: number }) => {
        const body = o.failureBudget === undefined ? undefined : { failureBudget: o.failureBudget };
        printRollout(ctx, await unwrap(ctx.client.POST('/v1/rollouts/{id}/resume', { params: { path: { id } }, ...(body ? { body } : {}) })));
      }),
    );

  const backups = program.command('backups').alias('backup').description("backups of an instance's data, restores and clones");
  pageOptions(backups.command('list <instance>').description("an instance's backups, newest first")).action(
    run(async (ctx, idOrSlug: string, o: { limit?: number; cursor?: string }) => {
      printPage(ctx, await unwrap(ctx.client.GET('/v1/instances/{idOrSlug}/backups', { params: { path: { idOrSlug }, query: o } })), backupColumns);
    }),
  );
  backups
    .command('get <backup>')
    .description('one backup (bak_…): its parts and checksums')
    .action(
      run(async (ctx, id: string) => {
        ctx.print(formatOne(await unwrap(ctx.client.GET('/v1/backups/{id}', { params: { path: { id } } })), ctx.output));
      }),
    );
  backups
    .command('create <instance>')
    .description('back an instance up now (it keeps serving)')
    .addOption(waitOption())
    .action(
      run(async (ctx, idOrSlug: string, o: { wait?: boolean }) => {
        const { operation } = await unwrap(ctx.client.POST('/v1/instances/{idOrSlug}/backups', { params: { path: { idOrSlug } } }));
        await started(ctx, operation, o.wait, idOrSlug);
      }),
    );
  backups
    .command('restore <instance> <backup>')
    .description("put an instance's data and configuration back as they were in one of its backups")
    .addOption(waitOption())
    .action(
      run(async (ctx, idOrSlug: string, backupId: string, o: { wait?: boolean }) => {
        const { operation } = await unwrap(ctx.client.POST('/v1/instances/{idOrSlug}/restore', { params: { path: { idOrSlug } }, body: { backupId } }));
        await started(ctx, operation, o.wait, idOrSlug);
      }),
    );
  backups
    .command('clone <backup>')
    .description('a new instance (own slug, credentials, DNS name) with the data of a backup')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--plan <plan>', 'its plan')
    .requiredOption('--owner-email <email>', 'the billing owner')
    .option('--slug <slug>', 'its slug (default: derived from the name)')
    .addOption(waitOption())
    .action(
      run(async (ctx, backupId: string, o: { name: string; plan: string; ownerEmail: string; slug?: string; wait?: boolean }) => {
        const created = await unwrap(
          ctx.client.POST('/v1/instances', { body: { name: o.name, plan: o.plan, ownerEmail: o.ownerEmail, fromBackup: backupId, ...(o.slug ? { slug: o.slug } : {}) } }),
        );
        await started(ctx, created.operation, o.wait, created.instance.slug);
      }),
    );
  backups
    .command('delete <backup>')
    .description('remove a backup (admin): its objects go, its record stays as expired')
    .action(
      run(async (ctx, id: string) => {
        const backup = await unwrap(ctx.client.DELETE('/v1/backups/{id}', { params: { path: { id } } }));
        ctx.print(formatOne(backup, ctx.output, backupColumns));
      }),
    );

  const health = program.command('health').description('fleet health: sweeps, orphans, checks');
  pageOptions(
    health
      .command('sweeps')
      .description('health sweeps, newest first (--run starts one)')
      .option('--run', 'start a sweep of the whole fleet now'),
  ).action(
    run(async (ctx, o: { run?: boolean; limit?: number; cursor?: string }) => {
      if (o.run) {
        const { sweep } = await unwrap(ctx.client.POST('/v1/health/sweeps'));
        return ctx.print(formatOne(sweep, ctx.output, sweepColumns));
      }
      const { run: _run, ...query } = o;
      printPage(ctx, await unwrap(ctx.client.GET('/v1/health/sweeps', { params: { query } })), sweepColumns);
    }),
  );
  health
    .command('orphans')
    .description("what the last sweep found in the cluster, DNS or Postgres that no instance owns")
    .action(
      run(async (ctx) => {
        const orphans = await unwrap(ctx.client.GET('/v1/health/orphans'));
        if (ctx.output !== 'table') return ctx.print(formatOne(orphans, ctx.output));
        printPage(ctx, orphans, orphanColumns);
        ctx.note(orphans.sweepId ? `from sweep ${orphans.sweepId} at ${ago(orphans.checkedAt)}` : 'no sweep has looked yet');
      }),
    );
  health
    .command('check <instance>')
    .description('check an instance now and print the verdict (also: GET without --now via `health show`)')
    .action(
      run(async (ctx, idOrSlug: string) => {
        printHealth(ctx, await unwrap(ctx.client.POST('/v1/instances/{idOrSlug}/health/check', { params: { path: { idOrSlug } } })));
      }),
    );
  health
    .command('show <instance>')
    .description("an instance's last health verdict and its checks")
    .action(
      run(async (ctx, idOrSlug: string) => {
        printHealth(ctx, await unwrap(ctx.client.GET('/v1/instances/{idOrSlug}/health', { params: { path: { idOrSlug } } })));
      }),
    );

  const invoices = program.command('invoices').alias('invoice').description('invoices per owner and month');
  pageOptions(
    invoices.command('list').description('invoices').option('--owner <email>', 'one owner').option('--period <YYYY-MM>', 'one month'),
  ).action(
    run(async (ctx, o: { owner?: string; period?: string; limit?: number; cursor?: string }) => {
      printPage(ctx, await unwrap(ctx.client.GET('/v1/invoices', { params: { query: o } })), invoiceColumns);
    }),
  );
  invoices
    .command('get <id>')
    .description('one invoice with its lines')
    .action(
      run(async (ctx, id: string) => {
        const invoice = await unwrap(ctx.client.GET('/v1/invoices/{id}', { params: { path: { id } } }));
        if (ctx.output !== 'table') return ctx.print(formatOne(invoice, ctx.output));
        ctx.print(formatTable([invoice], invoiceColumns));
        ctx.print('');
        ctx.print(formatTable(invoice.lines, invoiceLineColumns));
      }),
    );
  invoices
    .command('run <period>')
    .description('invoice a closed month (YYYY-MM), again if need be (admin)')
    .action(
      run(async (ctx, period: string) => {
        const accepted = await unwrap(ctx.client.POST('/v1/invoices/runs', { body: { period } }));
        ctx.print(ctx.output === 'table' ? `invoicing of ${accepted.period} started (workflow ${accepted.workflowId})` : formatOne(accepted, ctx.output));
      }),
    );

  const keys = program.command('keys').alias('api-keys').description('API keys (admin)');
  keys
    .command('list')
    .description('every API key, revoked ones too')
    .action(
      run(async (ctx) => {
        printPage(ctx, await unwrap(ctx.client.GET('/v1/api-keys')), keyColumns);
      }),
    );
  keys
    .command('create')
    .description('a new API key; its secret is printed this once')
    .requiredOption('--name <name>', 'who uses it (the audit trail shows it)')
    .addOption(new Option('--role <role>', 'what it may do').choices(['viewer', 'operator', 'admin']).makeOptionMandatory())
    .option('--owner <email>', "bind it to one owner: it sees and acts on that owner's instances only")
    .action(
      run(async (ctx, o: { name: string; role: 'viewer' | 'operator' | 'admin'; owner?: string }) => {
        const created = await unwrap(ctx.client.POST('/v1/api-keys', { body: { name: o.name, role: o.role, ...(o.owner ? { owner: o.owner } : {}) } }));
        if (ctx.output !== 'table') return ctx.print(formatOne(created, ctx.output));
        ctx.print(formatTable([created.apiKey], keyColumns));
        ctx.print(`key: ${created.key}`);
        ctx.note('store the key now: it is not shown again');
      }),
    );
  keys
    .command('revoke <id>')
    .description('revoke an API key: it stops working at once')
    .action(
      run(async (ctx, id: string) => {
        const { apiKey } = await unwrap(ctx.client.DELETE('/v1/api-keys/{id}', { params: { path: { id } } }));
        ctx.print(formatOne(apiKey, ctx.output, keyColumns));
      }),
    );

  const webhooks = program.command('webhooks').alias('webhook').description('webhooks: events pushed to your endpoints (admin)');
  webhooks
    .command('list')
    .description('every webhook')
    .action(
      run(async (ctx) => {
        printPage(ctx, await unwrap(ctx.client.GET('/v1/webhooks')), webhookColumns);
      }),
    );
  webhooks
    .command('create')
    .description('a new webhook; its signing secret is printed this once')
    .requiredOption('--url <url>', 'http or https endpoint')
    .requiredOption('--events <types>', 'event types, comma-separated, or * for all', list)
    .option('--description <text>', 'what it is for')
    .action(
      run(async (ctx, o: { url: string; events: string[]; description?: string }) => {
        const created = await unwrap(
          ctx.client.POST('/v1/webhooks', {
            body: { url: o.url, events: o.events as Schemas['Webhook']['events'] as never, ...(o.description ? { description: o.description } : {}) },
          }),
        );
        if (ctx.output !== 'table') return ctx.print(formatOne(created, ctx.output));
        ctx.print(formatTable([created.webhook], webhookColumns));
        ctx.print(`secret: ${created.secret}`);
        ctx.note('store the secret now: it is not shown again');
      }),
    );
  webhooks
    .command('delete <id>')
    .description('stop sending to a webhook')
    .action(
      run(async (ctx, id: string) => {
        const { webhook } = await unwrap(ctx.client.DELETE('/v1/webhooks/{id}', { params: { path: { id } } }));
        ctx.print(formatOne(webhook, ctx.output, webhookColumns));
      }),
    );
  pageOptions(webhooks.command('deliveries <id>').description("a webhook's delivery log, newest first")).action(
    run(async (ctx, id: string, o: { limit?: number; cursor?: string }) => {
      printPage(ctx, await unwrap(ctx.client.GET('/v1/webhooks/{id}/deliveries', { params: { path: { id }, query: o } })), deliveryColumns);
    }),
  );

  const clusters = program.command('clusters').alias('cluster').description('the Kubernetes clusters instances are placed in');
  clusters
    .command('list')
    .description('clusters with their status, instances and free capacity')
    .action(
      run(async (ctx) => {
        printPage(ctx, await unwrap(ctx.client.GET('/v1/clusters')), clusterColumns);
      }),
    );
  clusters
    .command('get <name>')
    .description('one cluster')
    .action(
      run(async (ctx, name: string) => {
        ctx.print(formatOne(await unwrap(ctx.client.GET('/v1/clusters/{name}', { params: { path: { name } } })), ctx.output, clusterColumns));
      }),
    );
  for (const [verb, path, description] of [
    ['drain', '/v1/clusters/{name}/drain', 'stop placing new instances in a cluster (its instances stay and keep being served)'],
    ['undrain', '/v1/clusters/{name}/undrain', 'place new instances in a drained cluster again'],
  ] as const) {
    clusters
      .command(`${verb} <name>`)
      .description(description)
      .action(
        run(async (ctx, name: string) => {
          ctx.print(formatOne(await unwrap(ctx.client.POST(path, { params: { path: { name } } })), ctx.output, clusterColumns));
        }),
      );
  }

  program
    .command('whoami')
    .description('the key in use: its name, role and owner')
    .action(
      run(async (ctx) => {
        const me = await unwrap(ctx.client.GET('/v1/me'));
        ctx.print(formatOne(me, ctx.output, [
          { header: 'name', value: (m) => m.name },
          { header: 'role', value: (m) => m.role },
          { header: 'owner', value: (m) => m.owner },
        ]));
      }),
    );

  program
    .command('plans')
    .description('the plans instances can be on')
    .action(
      run(async (ctx) => {
        printPage(ctx, await unwrap(ctx.client.GET('/v1/plans')), planColumns);
      }),
    );

  const config = program.command('config').description('connection profiles, kept in $XDG_CONFIG_HOME/shipyard/config.yaml (mode 0600)');
  config
    .command('set-profile <name>')
    .description('save (or change) a profile; the first one saved becomes the current one')
    .option('--url <url>', "the API's URL, e.g. https://shipyard.example.com")
    .option('--key <key>', 'an API key (read from SHIPYARD_API_KEY when not given)')
    .option('--use', 'make it the current profile')
    .action((name: string, o: { url?: string; key?: string; use?: boolean }) => {
      const path = configPath(process.env);
      const key = o.key ?? process.env.SHIPYARD_API_KEY;
      const next = setProfile(readProfiles(path), name, { ...(o.url ? { url: o.url } : {}), ...(key ? { key } : {}) });
      writeProfiles(path, o.use ? { ...next, current: name } : next);
      process.stdout.write(`profile "${name}" saved in ${path}${(o.use ? name : next.current) === name ? ' (current)' : ''}\n`);
    });
  config
    .command('use-profile <name>')
    .description('make a profile the current one')
    .action((name: string) => {
      const path = configPath(process.env);
      const file = readProfiles(path);
      if (!file.profiles[name]) throw new UsageError(`no profile "${name}" in ${path}`);
      writeProfiles(path, { ...file, current: name });
      process.stdout.write(`current profile: ${name}\n`);
    });
  config
    .command('profiles')
    .description('the saved profiles (keys shortened)')
    .action(() => {
      const file = readProfiles(configPath(process.env));
      const rows = Object.entries(file.profiles).map(([name, p]) => ({ name, url: p.url, key: maskKey(p.key), current: name === file.current }));
      process.stdout.write(`${rows.length ? formatTable(rows, [
        { header: 'current', value: (r) => (r.current ? '*' : '') },
        { header: 'name', value: (r) => r.name },
        { header: 'url', value: (r) => r.url },
        { header: 'key', value: (r) => r.key },
      ]) : '(none)'}\n`);
    });
}

function printRollout(ctx: Context, rollout: Rollout): void {
  if (ctx.output !== 'table') return ctx.print(formatOne(rollout, ctx.output));
  ctx.print(`rollout ${rollout.id} of ${rollout.version}: ${rollout.status} (${rollout.counts.succeeded}/${rollout.counts.total} upgraded)`);
  const url = (rollout as Rollout & { temporalUiUrl?: string }).temporalUiUrl;
  if (url) ctx.print(`temporal: ${url}`);
  ctx.print(formatTable(rollout.waves, waveColumns(rollout)));
  for (const failure of rollout.failures) ctx.print(`✗ ${failure.slug}${failure.operationId ? ` (${failure.operationId})` : ''}: ${failure.error}`);
}

function printHealth(ctx: Context, report: Schemas['HealthReport']): void {
  if (ctx.output !== 'table') return ctx.print(formatOne(report, ctx.output));
  ctx.print(`health: ${report.health}${report.checkedAt ? ` (checked ${ago(report.checkedAt)})` : ''}`);
  if (report.cluster) ctx.print(`cluster: ${report.cluster}`);
  if (report.checks.length) ctx.print(formatTable(report.checks, checkColumns));
}
