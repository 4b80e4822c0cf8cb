// One instance: its state, the running operation live, history, audit trail, usage and actions.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiProblem, query } from '../client';
import { may } from '../auth';
import { Badge, ConfirmDialog, Field, Loaded, Pager, ProblemBox, StackedColumns, Steps, money, took, usePager, useResource, when } from '../components';
import { watchOperation } from '../live';
import { href } from '../router';
import type { AuditEvent, Backup, HealthReport, Instance, Me, Operation, Page, Plan, Usage } from '../types';

interface Action {
  name: string;
  /** Statuses it may start from (as the API's operation kinds declare them). */
  from: string[];
  title: (slug: string) => string;
  method: string;
  path: string;
  /** A form part asking for what the action needs (version, plan, backup), and the body it makes. */
  input?: 'version' | 'plan' | 'backup';
}

const ACTIONS: Action[] = [
  { name: 'Upgrade', from: ['ready', 'failed'], title: (s) => `Upgrade ${s}`, method: 'POST', path: '/upgrade', input: 'version' },
  { name: 'Suspend', from: ['ready'], title: (s) => `Suspend ${s}`, method: 'POST', path: '/suspend' },
  { name: 'Resume', from: ['suspended'], title: (s) => `Resume ${s}`, method: 'POST', path: '/resume' },
  { name: 'Change plan', from: ['ready', 'suspended'], title: (s) => `Change the plan of ${s}`, method: 'POST', path: '/plan', input: 'plan' },
  { name: 'Back up', from: ['ready', 'suspended'], title: (s) => `Back up ${s}`, method: 'POST', path: '/backups' },
  { name: 'Restore', from: ['ready', 'suspended'], title: (s) => `Restore ${s} from a backup`, method: 'POST', path: '/restore', input: 'backup' },
  { name: 'Undelete', from: ['deleting'], title: (s) => `Undelete ${s}`, method: 'POST', path: '/undelete' },
  {
    name: 'Delete',
    from: ['provisioning', 'ready', 'upgrading', 'suspending', 'suspended', 'resuming', 'changing_plan', 'restoring', 'failed'],
    title: (s) => `Delete ${s}`,
    method: 'DELETE',
    path: '',
  },
];

function ActionDialog({ action, instance, onDone, onClose }: { action: Action; instance: Instance; onDone: () => void; onClose: () => void }) {
  const [value, setValue] = useState('');
  const plans = useResource<{ items: Plan[] }>(action.input === 'plan' ? '/v1/plans' : null);
  const backups = useResource<Page<Backup>>(action.input === 'backup' ? `/v1/instances/${encodeURIComponent(instance.slug)}/backups?limit=50` : null);
  const body = action.input === 'version' ? { version: value } : action.input === 'plan' ? { plan: value } : action.input === 'backup' ? { backupId: value } : undefined;
  const run = async () => {
    if (action.input && !value) throw new ApiProblem(0, 'Incomplete', `choose a ${action.input} first`);
    await api(action.method, `/v1/instances/${encodeURIComponent(instance.slug)}${action.path}`, body);
    onDone();
  };
  return (
    <ConfirmDialog title={`${action.title(instance.slug)}?`} confirmLabel={action.name} onConfirm={run} onClose={onClose}>
      <p>
        This acts on <strong>{instance.name}</strong> (<code>{instance.slug}</code>, owner {instance.ownerEmail}), now {instance.status.replace(/_/g, ' ')} at version {instance.version} on plan {instance.plan}.
      </p>
      {action.name === 'Delete' ? <p class="warning">It stops serving at once; it can be undeleted until its grace period ends.</p> : null}
      {action.input === 'version' ? (
        <Field label="New version"><input name="version" required value={value} onInput={(e) => setValue(e.currentTarget.value.trim())} /></Field>
      ) : null}
      {action.input === 'plan' ? (
        <Field label="New plan">
          <select name="plan" value={value} onChange={(e) => setValue(e.currentTarget.value)}>
            <option value="">choose…</option>
            {(plans.data?.items ?? []).filter((p) => p.name !== instance.plan).map((p) => <option key={p.name} value={p.name}>{p.name} ({p.cpu} CPU, {p.memory})</option>)}
          </select>
        </Field>
      ) : null}
      {action.input === 'backup' ? (
        <Field label="Backup">
          <select name="backupId" value={value} onChange={(e) => setValue(e.currentTarget.value)}>
            <option value="">choose…</option>
            {(backups.data?.items ?? []).filter((b) => b.status === 'completed').map((b) => (
              <option key={b.id} value={b.id}>{when(b.startedAt)} · {b.kind} · version {b.appVersion}</option>
            ))}
          </select>
        </Field>
      ) : null}
      <ProblemBox problem={plans.problem ?? backups.problem} />
    </ConfirmDialog>
  );
}

function TemporalLink({ operation }: { operation: Operation }) {
  return operation.temporalUiUrl ? (
    <a href={operation.temporalUiUrl} target="_blank" rel="noreferrer noopener">
      Open the run of {operation.kind} in the Temporal UI
    </a>
  ) : null;
}

function RunningOperation({ operation }: { operation: Operation }) {
  return (
    <section class="card live" aria-labelledby="running-op" aria-live="polite">
      <h2 id="running-op">
        Running: {operation.kind} <Badge value={operation.status} />
      </h2>
      <p class="muted">
        Started {when(operation.startedAt)} by {operation.actor}. <TemporalLink operation={operation} />
      </p>
      <Steps steps={operation.steps} label={`Steps of the running ${operation.kind}`} />
      {operation.error ? <p class="error-text">{operation.error}</p> : null}
    </section>
  );
}

function History({ slug, generation }: { slug: string; generation: number }) {
  const pager = usePager(slug);
  const page = useResource<Page<Operation>>(`/v1/instances/${encodeURIComponent(slug)}/operations${query({ limit: 10, cursor: pager.cursor })}`, { version: generation });
  return (
    <section class="card" aria-labelledby="history">
      <h2 id="history">Operations</h2>
      <Loaded resource={page}>
        {(p) => (
          <>
            <ul class="plain history">
              {p.items.map((op) => (
                <li key={op.id} data-operation={op.id} data-kind={op.kind} data-status={op.status}>
                  <details open={op.status !== 'succeeded'}>
                    <summary>
                      <strong>{op.kind}</strong> <Badge value={op.status} /> <span class="muted">{when(op.startedAt)} · {op.actor} {took(op.startedAt, op.endedAt)}</span>
                    </summary>
                    {op.error ? <p class="error-text operation-error">{op.error}</p> : null}
                    <Steps steps={op.steps} label={`Steps of ${op.kind} ${op.id}`} />
                    <TemporalLink operation={op} />
                  </details>
                </li>
              ))}
            </ul>
            <Pager pager={pager} nextCursor={p.nextCursor} label="Operation" />
          </>
        )}
      </Loaded>
    </section>
  );
}

function AuditTrail({ slug, generation }: { slug: string; generation: number }) {
  const pager = usePager(slug);
  const page = useResource<Page<AuditEvent>>(`/v1/instances/${encodeURIComponent(slug)}/events${query({ limit: 20, cursor: pager.cursor })}`, { version: generation });
  return (
    <section class="card" aria-labelledby="audit">
      <h2 id="audit">Audit trail</h2>
      <Loaded resource={page}>
        {(p) => (
          <>
            <table>
              <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Outcome</th><th scope="col">Message</th></tr></thead>
              <tbody>
                {p.items.map((e) => (
                  <tr key={e.id}><td>{when(e.at)}</td><td>{e.actor}</td><td>{e.action}</td><td><Badge value={e.outcome} /></td><td>{e.message ?? ''}</td></tr>
                ))}
              </tbody>
            </table>
            <Pager pager={pager} nextCursor={p.nextCursor} label="Audit trail" />
          </>
        )}
      </Loaded>
    </section>
  );
}

function UsageChart({ slug, generation }: { slug: string; generation: number }) {
  const usage = useResource<Usage>(`/v1/instances/${encodeURIComponent(slug)}/usage`, { version: generation });
  return (
    <section class="card" aria-labelledby="usage">
      <h2 id="usage">Usage this month</h2>
      <Loaded resource={usage}>
        {(u) => (
          <>
            <StackedColumns
              title="Amount per meter and plan"
              labels={u.lines.map((l) => `${l.meter.replace(/_/g, ' ')} (${l.plan})`)}
              series={[{ name: `amount (${u.currency} cents)`, className: 'fill-good' }]}
              values={u.lines.map((l) => [l.amountCents])}
              height={100}
            />
            <table>
              <thead><tr><th scope="col">Meter</th><th scope="col">Plan</th><th scope="col">Quantity</th><th scope="col">Amount</th></tr></thead>
              <tbody>
                {u.lines.map((l) => (
                  <tr key={`${l.meter}-${l.plan}`}><td>{l.meter.replace(/_/g, ' ')}</td><td>{l.plan}</td><td class="num">{l.quantity} {l.unit}</td><td class="num">{money(l.amountCents, u.currency)}</td></tr>
                ))}
                <tr><th scope="row" colSpan={3}>Total since {when(u.from)}</th><td class="num">{money(u.totalCents, u.currency)}</td></tr>
              </tbody>
            </table>
          </>
        )}
      </Loaded>
    </section>
  );
}

export function InstancePage({ me, slug }: { me: Me; slug: string }) {
  const [generation, setGeneration] = useState(0);
  const instance = useResource<Instance>(`/v1/instances/${encodeURIComponent(slug)}`, { version: generation });
  const health = useResource<HealthReport>(`/v1/instances/${encodeURIComponent(slug)}/health`, { version: generation });
  const [live, setLive] = useState<Operation | undefined>(undefined);
  const [liveProblem, setLiveProblem] = useState<ApiProblem | undefined>(undefined);
  const [action, setAction] = useState<Action | undefined>(undefined);
  const runningId = instance.data?.currentOperation?.id;

  // The running operation, live; when it ends, everything on the page is read again.
  useEffect(() => {
    if (!runningId) return undefined;
    setLive(instance.data?.currentOperation ?? undefined);
    return watchOperation(
      runningId,
      (op) => {
        setLive(op);
        setLiveProblem(undefined);
        if (op.status !== 'running') setGeneration((g) => g + 1);
      },
      setLiveProblem,
    );
  }, [runningId]);

  const i = instance.data;
  const certificate = health.data?.checks.find((c) => c.name === 'certificate');
  const running = live && live.id === runningId && live.status === 'running' ? live : undefined;
  return (
    <>
      <p class="crumbs"><a href={href('instances')}>Instances</a> / {slug}</p>
      <Loaded resource={instance}>
        {(inst) => (
          <>
            <div class="title-row">
              <h1>{inst.name} <span class="muted">({inst.slug})</span></h1>
              <span data-testid="instance-status"><Badge value={inst.status} label="status" /></span>
            </div>
            <dl class="facts">
              <div><dt>Version</dt><dd data-testid="instance-version">{inst.version}</dd></div>
              <div><dt>Plan</dt><dd>{inst.plan}</dd></div>
              <div><dt>Health</dt><dd><Badge value={inst.health} /> <span class="muted">checked {when(inst.healthCheckedAt)}</span></dd></div>
              <div><dt>Host</dt><dd>{inst.hostname}</dd></div>
              <div><dt>Namespace</dt><dd>{inst.namespace}</dd></div>
              {inst.cluster ? <div><dt>Cluster</dt><dd data-testid="instance-cluster">{inst.cluster}</dd></div> : null}
              <div><dt>Owner</dt><dd>{inst.ownerEmail}</dd></div>
              <div><dt>Certificate</dt><dd>{certificate ? `${certificate.status}: ${certificate.detail ?? ''}` : '—'}</dd></div>
              <div><dt>Created</dt><dd>{when(inst.createdAt)}</dd></div>
              {inst.purgeAt ? <div><dt>Purged at</dt><dd>{when(inst.purgeAt)}</dd></div> : null}
            </dl>
            {may(me, 'operator') ? (
              <section class="actions" aria-label="Actions">
                {ACTIONS.filter((a) => a.from.includes(inst.status)).map((a) => (
                  <button type="button" key={a.name} class={a.name === 'Delete' ? 'danger' : ''} disabled={Boolean(running)} onClick={() => setAction(a)}>
                    {a.name}
                  </button>
                ))}
              </section>
            ) : null}
            {action ? (
              <ActionDialog action={action} instance={inst} onClose={() => setAction(undefined)} onDone={() => setGeneration((g) => g + 1)} />
            ) : null}
          </>
        )}
      </Loaded>
      <ProblemBox problem={liveProblem} />
      {running ? <RunningOperation operation={running} /> : null}
      {i ? (
        <>
          <History slug={slug} generation={generation} />
          <UsageChart slug={slug} generation={generation} />
          <AuditTrail slug={slug} generation={generation} />
        </>
      ) : null}
    </>
  );
}
