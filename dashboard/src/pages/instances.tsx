// The instance table: filters and search applied by the API, one request per page (cursor pages).
import { useEffect, useState } from 'preact/hooks';
import { api, query } from '../client';
import { may } from '../auth';
import { Badge, ConfirmDialog, Field, Loaded, Pager, usePager, useResource } from '../components';
import { go, href } from '../router';
import type { Instance, Me, Operation, Page, Plan } from '../types';

const STATUSES = ['provisioning', 'ready', 'upgrading', 'suspending', 'suspended', 'resuming', 'changing_plan', 'restoring', 'deleting', 'deleted', 'failed'];
const HEALTHS = ['healthy', 'degraded', 'unhealthy', 'unknown'];
const PAGE_SIZE = 25;

function NewInstance({ plans, onClose }: { plans: Plan[]; onClose: () => void }) {
  const [form, setForm] = useState({ name: '', slug: '', plan: plans[0]?.name ?? '', ownerEmail: '', version: '' });
  const set = (field: keyof typeof form) => (e: Event) => setForm({ ...form, [field]: (e.currentTarget as HTMLInputElement).value });
  const create = async () => {
    const body = Object.fromEntries(Object.entries(form).filter(([, v]) => v.trim() !== ''));
    const created = await api<{ instance: Instance; operation: Operation }>('POST', '/v1/instances', body);
    go('instances', created.instance.slug);
  };
  return (
    <ConfirmDialog title="New instance" confirmLabel="Provision" onConfirm={create} onClose={onClose}>
      <Field label="Name"><input name="name" required value={form.name} onInput={set('name')} /></Field>
      <Field label="Slug (optional)"><input name="slug" value={form.slug} onInput={set('slug')} /></Field>
      <Field label="Plan">
        <select name="plan" value={form.plan} onChange={set('plan')}>
          {plans.map((p) => <option key={p.name} value={p.name}>{p.name}</option>)}
        </select>
      </Field>
      <Field label="Owner email"><input name="ownerEmail" type="email" required value={form.ownerEmail} onInput={set('ownerEmail')} /></Field>
      <Field label="Version (optional)"><input name="version" value={form.version} onInput={set('version')} /></Field>
    </ConfirmDialog>
  );
}

export function InstancesPage({ me }: { me: Me }) {
  const [filter, setFilter] = useState({ status: '', health: '', plan: '', version: '', search: '' });
  const [creating, setCreating] = useState(false);
  const pager = usePager(JSON.stringify(filter));
  const plans = useResource<{ items: Plan[] }>('/v1/plans');
  const page = useResource<Page<Instance>>(`/v1/instances${query({ ...filter, limit: PAGE_SIZE, cursor: pager.cursor })}`);
  const set = (field: keyof typeof filter) => (e: Event) => setFilter({ ...filter, [field]: (e.currentTarget as HTMLInputElement).value.trim() });
  // Typed text is applied once typing pauses: one request, not one per keystroke.
  const [typed, setTyped] = useState({ search: '', version: '' });
  useEffect(() => {
    if (typed.search === filter.search && typed.version === filter.version) return undefined;
    const timer = setTimeout(() => setFilter((f) => ({ ...f, search: typed.search.trim(), version: typed.version.trim() })), 300);
    return () => clearTimeout(timer);
  }, [typed]);
  const type = (field: keyof typeof typed) => (e: Event) => setTyped({ ...typed, [field]: (e.currentTarget as HTMLInputElement).value });

  return (
    <>
      <div class="title-row">
        <h1>Instances</h1>
        {may(me, 'operator') ? (
          <button type="button" class="primary" onClick={() => setCreating(true)} disabled={!plans.data}>
            New instance
          </button>
        ) : null}
      </div>
      {creating && plans.data ? <NewInstance plans={plans.data.items} onClose={() => setCreating(false)} /> : null}
      <form class="filters" role="search" aria-label="Filter instances" onSubmit={(e) => e.preventDefault()}>
        <Field label="Search slug or owner"><input type="search" name="search" value={typed.search} onInput={type('search')} /></Field>
        <Field label="Status">
          <select name="status" value={filter.status} onChange={set('status')}>
            <option value="">any</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s.replace(/_/g, ' ')}</option>)}
          </select>
        </Field>
        <Field label="Health">
          <select name="health" value={filter.health} onChange={set('health')}>
            <option value="">any</option>
            {HEALTHS.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </Field>
        <Field label="Plan">
          <select name="plan" value={filter.plan} onChange={set('plan')}>
            <option value="">any</option>
            {(plans.data?.items ?? []).map((p) => <option key={p.name} value={p.name}>{p.name}</option>)}
          </select>
        </Field>
        <Field label="Version"><input name="version" value={typed.version} onInput={type('version')} /></Field>
      </form>
      <Loaded resource={page}>
        {(p) => {
          // A single-cluster install places nothing: no column for it.
          const clustered = p.items.some((i) => i.cluster);
          return (
            <>
              <table class="instances">
                <caption class="visually-hidden">Instances matching the filters</caption>
                <thead>
                  <tr>
                    <th scope="col">Slug</th><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Health</th>
                    <th scope="col">Plan</th><th scope="col">Version</th><th scope="col">Owner</th>
                    {clustered ? <th scope="col">Cluster</th> : null}<th scope="col">Running</th>
                  </tr>
                </thead>
                <tbody>
                  {p.items.length === 0 ? (
                    <tr><td colSpan={8} class="muted">No instance matches.</td></tr>
                  ) : (
                    p.items.map((i) => (
                      <tr key={i.id} data-slug={i.slug}>
                        <td><a href={href('instances', i.slug)}>{i.slug}</a></td>
                        <td>{i.name}</td>
                        <td><Badge value={i.status} /></td>
                        <td><Badge value={i.health} /></td>
                        <td>{i.plan}</td>
                        <td>{i.version}</td>
                        <td>{i.ownerEmail}</td>
                        {clustered ? <td>{i.cluster ?? ''}</td> : null}
                        <td>{i.currentOperation ? i.currentOperation.kind : ''}</td>
                      </tr>
                    ))
                  )}
                </tbody>
              </table>
              <Pager pager={pager} nextCursor={p.nextCursor} label="Instance" />
            </>
          );
        }}
      </Loaded>
    </>
  );
}
