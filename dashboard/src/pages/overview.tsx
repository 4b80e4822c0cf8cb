// The fleet at a glance: one summary request (GET /v1/fleet/summary), plus the rollouts that run.
import { fleetWide } from '../auth';
import { Badge, Loaded, StackedColumns, TallyBars, useResource, when } from '../components';
import { href } from '../router';
import type { FleetSummary, Me, Page, Rollout, RolloutListed } from '../types';
import { RolloutProgress } from './rollouts';

const REFRESH_MS = 5000;
const active = new Set(['running', 'paused', 'halted']);

function RunningRollouts() {
  const list = useResource<Page<RolloutListed>>('/v1/rollouts?limit=20', { refreshMs: REFRESH_MS });
  const running = (list.data?.items ?? []).filter((r) => active.has(r.status));
  return (
    <section class="card" aria-labelledby="running-rollouts">
      <h2 id="running-rollouts">Rollouts under way</h2>
      <Loaded resource={list}>
        {() => (running.length === 0 ? <p class="muted">None running.</p> : <ul class="plain">{running.map((r) => <RunningRollout key={r.id} id={r.id} />)}</ul>)}
      </Loaded>
    </section>
  );
}

function RunningRollout({ id }: { id: string }) {
  const rollout = useResource<Rollout>(`/v1/rollouts/${encodeURIComponent(id)}`, { refreshMs: REFRESH_MS });
  return (
    <li>
      <Loaded resource={rollout}>
        {(r) => (
          <>
            <a href={href('rollouts', r.id)}>{r.id}</a> → {r.version} <Badge value={r.status} />
            <RolloutProgress counts={r.counts} />
          </>
        )}
      </Loaded>
    </li>
  );
}

export function OverviewPage({ me }: { me: Me }) {
  const summary = useResource<FleetSummary>('/v1/fleet/summary', { refreshMs: REFRESH_MS });
  return (
    <>
      <h1>Fleet overview</h1>
      <Loaded resource={summary}>
        {(s) => (
          <>
            <p class="lead">
              <strong data-testid="instance-total">{s.instances.total}</strong> instances
            </p>
            <section class="card" aria-labelledby="ops-24h">
              <h2 id="ops-24h">Operations, last 24 hours</h2>
              <StackedColumns
                title="Operations ended per hour (UTC)"
                labels={s.operations.hours.map((h) => `${new Date(h.hour).getUTCHours()}h`)}
                series={[
                  { name: 'succeeded', className: 'fill-good' },
                  { name: 'rolled back', className: 'fill-warn' },
                  { name: 'failed', className: 'fill-bad' },
                ]}
                values={s.operations.hours.map((h) => [h.succeeded, h.rolledBack, h.failed])}
              />
            </section>
            <div class="grid">
              <TallyBars title="Status" tally={s.instances.byStatus} />
              <TallyBars title="Health" tally={s.instances.byHealth} />
              <TallyBars title="Plan" tally={s.instances.byPlan} />
              <TallyBars title="Version" tally={s.instances.byVersion} />
            </div>
            <section class="card" aria-labelledby="failures">
              <h2 id="failures">Newest failures</h2>
              {s.failures.length === 0 ? (
                <p class="muted">None.</p>
              ) : (
                <table>
                  <thead>
                    <tr><th scope="col">Instance</th><th scope="col">Operation</th><th scope="col">Outcome</th><th scope="col">Ended</th><th scope="col">Error</th></tr>
                  </thead>
                  <tbody>
                    {s.failures.map((f) => (
                      <tr key={f.operationId}>
                        <td><a href={href('instances', f.slug)}>{f.slug}</a></td>
                        <td>{f.kind}</td>
                        <td><Badge value={f.status} /></td>
                        <td>{when(f.endedAt)}</td>
                        <td class="error-text">{f.error ?? ''}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          </>
        )}
      </Loaded>
      {fleetWide(me) ? <RunningRollouts /> : null}
    </>
  );
}
