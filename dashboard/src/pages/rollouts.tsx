// Rollouts: the list, starting one, and a rollout's page with its waves filling live.
import { useState } from 'preact/hooks';
import { api, query } from '../client';
import { may } from '../auth';
import { Badge, ConfirmDialog, Field, Loaded, Pager, ProblemBox, asProblem, usePager, useResource, when } from '../components';
import { go, href } from '../router';
import type { Counts, Me, Page, Rollout, RolloutListed } from '../types';
import type { ApiProblem } from '../client';

const LIVE_MS = 1000;
const settled = new Set(['succeeded', 'aborted', 'failed']);

/** One bar: succeeded, rolled back, failed, running and skipped as parts of the total. */
export function RolloutProgress({ counts }: { counts: Counts }) {
  const total = Math.max(1, counts.total);
  const parts: [keyof Counts, string][] = [
    ['succeeded', 'fill-good'],
    ['rolledBack', 'fill-warn'],
    ['failed', 'fill-bad'],
    ['running', 'fill-busy'],
    ['skipped', 'fill-idle'],
  ];
  const done = counts.succeeded + counts.rolledBack + counts.failed + counts.skipped;
  return (
    <div class="progress" role="progressbar" aria-label="Rollout progress" aria-valuemin={0} aria-valuemax={counts.total} aria-valuenow={done}
      aria-valuetext={`${counts.succeeded} succeeded, ${counts.rolledBack} rolled back, ${counts.failed} failed, ${counts.running} running, ${counts.pending} pending of ${counts.total}`}>
      {parts.map(([name, className]) => (counts[name] > 0 ? <span key={name} class={className} style={{ width: `${(counts[name] / total) * 100}%` }} /> : null))}
    </div>
  );
}

const list = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean);

function StartRollout({ onClose }: { onClose: () => void }) {
  const [form, setForm] = useState({ version: '', plans: '', slugs: '', versions: '', regions: '', waveByRegion: false, pauseBetweenRegions: false, canary: '1', waves: '10, 50, 100', maxParallel: '10', failureBudget: '0', waitBetweenWavesSeconds: '0', pauseAfterCanary: false });
  const set = (field: keyof typeof form) => (e: Event) => setForm({ ...form, [field]: (e.currentTarget as HTMLInputElement).value });
  const start = async () => {
    const selector = Object.fromEntries(
      (['plans', 'slugs', 'versions', 'regions'] as const).map((k) => [k, list(form[k])] as const).filter(([, v]) => v.length > 0),
    );
    const body = {
      version: form.version.trim(),
      selector,
      strategy: {
        canary: Number(form.canary),
        waves: list(form.waves).map(Number),
        maxParallel: Number(form.maxParallel),
        failureBudget: Number(form.failureBudget),
        waitBetweenWavesSeconds: Number(form.waitBetweenWavesSeconds),
        pauseAfterCanary: form.pauseAfterCanary,
        ...(form.waveByRegion ? { waveBy: 'region' as const, pauseBetweenRegions: form.pauseBetweenRegions } : {}),
      },
    };
    const { rollout } = await api<{ rollout: Rollout }>('POST', '/v1/rollouts', body);
    go('rollouts', rollout.id);
  };
  return (
    <ConfirmDialog title="Start a rollout" confirmLabel="Start rollout" onConfirm={start} onClose={onClose}>
      <p class="muted">Ready instances matching every part of the selector given (none: the whole fleet), not already at the version.</p>
      <Field label="Version"><input name="version" required value={form.version} onInput={set('version')} /></Field>
      <fieldset>
        <legend>Selector (comma-separated)</legend>
        <Field label="Plans"><input name="plans" value={form.plans} onInput={set('plans')} /></Field>
        <Field label="Slugs"><input name="slugs" value={form.slugs} onInput={set('slugs')} /></Field>
        <Field label="Now at versions"><input name="versions" value={form.versions} onInput={set('versions')} /></Field>
        <Field label="Regions (in rollout order)"><input name="regions" value={form.regions} onInput={set('regions')} /></Field>
      </fieldset>
      <fieldset>
        <legend>Strategy</legend>
        <Field label="Canary instances"><input name="canary" type="number" min={0} value={form.canary} onInput={set('canary')} /></Field>
        <Field label="Waves (cumulative %)"><input name="waves" value={form.waves} onInput={set('waves')} /></Field>
        <Field label="Upgrades in parallel"><input name="maxParallel" type="number" min={1} value={form.maxParallel} onInput={set('maxParallel')} /></Field>
        <Field label="Failure budget"><input name="failureBudget" type="number" min={0} value={form.failureBudget} onInput={set('failureBudget')} /></Field>
        <Field label="Seconds between waves"><input name="waitBetweenWavesSeconds" type="number" min={0} value={form.waitBetweenWavesSeconds} onInput={set('waitBetweenWavesSeconds')} /></Field>
        <label class="check">
          <input type="checkbox" name="pauseAfterCanary" checked={form.pauseAfterCanary} onChange={(e) => setForm({ ...form, pauseAfterCanary: e.currentTarget.checked })} /> Pause after the canary
        </label>
        <label class="check">
          <input type="checkbox" name="waveByRegion" checked={form.waveByRegion} onChange={(e) => setForm({ ...form, waveByRegion: e.currentTarget.checked })} /> One region after the other, in the order of
          Regions (the canary and waves within each)
        </label>
        <label class="check">
          <input type="checkbox" name="pauseBetweenRegions" checked={form.pauseBetweenRegions} onChange={(e) => setForm({ ...form, pauseBetweenRegions: e.currentTarget.checked })} /> Pause
          between regions
        </label>
      </fieldset>
    </ConfirmDialog>
  );
}

export function RolloutsPage({ me }: { me: Me }) {
  const pager = usePager('rollouts');
  const [starting, setStarting] = useState(false);
  const page = useResource<Page<RolloutListed>>(`/v1/rollouts${query({ limit: 20, cursor: pager.cursor })}`, { refreshMs: 5000 });
  return (
    <>
      <div class="title-row">
        <h1>Rollouts</h1>
        {may(me, 'operator') ? <button type="button" class="primary" onClick={() => setStarting(true)}>Start rollout</button> : null}
      </div>
      {starting ? <StartRollout onClose={() => setStarting(false)} /> : null}
      <Loaded resource={page}>
        {(p) => (
          <>
            <table>
              <thead><tr><th scope="col">Rollout</th><th scope="col">Version</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Ended</th></tr></thead>
              <tbody>
                {p.items.length === 0 ? <tr><td colSpan={5} class="muted">No rollouts yet.</td></tr> : null}
                {p.items.map((r) => (
                  <tr key={r.id}>
                    <td><a href={href('rollouts', r.id)}>{r.id}</a></td><td>{r.version}</td><td><Badge value={r.status} /></td><td>{when(r.startedAt)}</td><td>{when(r.endedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager pager={pager} nextCursor={p.nextCursor} label="Rollout" />
          </>
        )}
      </Loaded>
    </>
  );
}

export function RolloutPage({ me, id }: { me: Me; id: string }) {
  const [version, setVersion] = useState(0);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [confirm, setConfirm] = useState<'abort' | undefined>(undefined);
  // While it runs, read again every second: its waves fill as the upgrades end.
  const rollout = useResource<Rollout>(`/v1/rollouts/${encodeURIComponent(id)}`, { refreshMs: LIVE_MS, refreshWhile: (r) => !settled.has(r.status), version });
  const r = rollout.data;
  const steer = async (action: 'pause' | 'resume' | 'abort') => {
    try {
      await api('POST', `/v1/rollouts/${encodeURIComponent(id)}/${action}`);
      setProblem(undefined);
    } catch (err) {
      setProblem(asProblem(err));
    }
    setVersion((v) => v + 1);
  };
  return (
    <>
      <p class="crumbs"><a href={href('rollouts')}>Rollouts</a> / {id}</p>
      <Loaded resource={rollout}>
        {() =>
          r ? (
            <>
              <div class="title-row">
                <h1>Rollout to {r.version}</h1>
                <span data-testid="rollout-status"><Badge value={r.status} label="status" /></span>
              </div>
              {may(me, 'operator') && !settled.has(r.status) ? (
                <section class="actions" aria-label="Actions">
                  {r.status === 'running' ? <button type="button" onClick={() => void steer('pause')}>Pause</button> : null}
                  {r.status === 'paused' || r.status === 'halted' ? <button type="button" onClick={() => void steer('resume')}>Resume</button> : null}
                  <button type="button" class="danger" onClick={() => setConfirm('abort')}>Abort</button>
                </section>
              ) : null}
              {confirm ? (
                <ConfirmDialog title={`Abort rollout ${r.id} to ${r.version}?`} confirmLabel="Abort" onClose={() => setConfirm(undefined)} onConfirm={async () => {
                  await api('POST', `/v1/rollouts/${encodeURIComponent(id)}/abort`);
                  setVersion((v) => v + 1);
                }}>
                  <p>No new upgrade starts; those in flight finish.</p>
                </ConfirmDialog>
              ) : null}
              <ProblemBox problem={problem} />
              {r.error ? <p class="error-text">{r.error}</p> : null}
              <dl class="facts">
                <div><dt>Started</dt><dd>{when(r.startedAt)}</dd></div>
                <div><dt>Ended</dt><dd>{when(r.endedAt)}</dd></div>
                <div><dt>Instances</dt><dd data-testid="rollout-counts">{r.counts.succeeded} succeeded · {r.counts.rolledBack} rolled back · {r.counts.failed} failed · {r.counts.running} running · {r.counts.pending} pending · {r.counts.skipped} skipped of {r.counts.total}</dd></div>
              </dl>
              <RolloutProgress counts={r.counts} />
              <section class="card" aria-labelledby="waves">
                <h2 id="waves">Waves</h2>
                <ol class="plain waves">
                  {r.waves.map((w) => (
                    <li key={w.index} data-wave={w.index} data-status={w.status} {...(w.region ? { 'data-region': w.region } : {})}>
                      <span class="wave-name">{w.name}</span> <Badge value={w.status} /> <span class="muted">{w.size} instances</span>
                      <RolloutProgress counts={w.counts} />
                    </li>
                  ))}
                </ol>
              </section>
              {r.failures.length > 0 ? (
                <section class="card" aria-labelledby="rollout-failures">
                  <h2 id="rollout-failures">Failures</h2>
                  <ul class="plain">
                    {r.failures.map((f) => <li key={f.slug}><a href={href('instances', f.slug)}>{f.slug}</a>: <span class="error-text">{f.error}</span></li>)}
                  </ul>
                </section>
              ) : null}
            </>
          ) : null
        }
      </Loaded>
    </>
  );
}
