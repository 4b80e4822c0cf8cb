// The parts every page uses: loading a resource, showing a problem in place, badges, steps,
// charts (plain SVG), a pager and the confirmation dialog.
import { cloneElement, type ComponentChildren, type VNode } from 'preact';
import { useCallback, useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiProblem, get } from './client';
import type { Step } from './types';

export interface Resource<T> {
  data: T | undefined;
  problem: ApiProblem | undefined;
  loading: boolean;
  reload: () => void;
}

export interface ResourceOptions<T> {
  /** Read again this often… */
  refreshMs?: number;
  /** …while this holds of the last answer (always, if not given). */
  refreshWhile?: (data: T) => boolean;
  /** Read again when this changes (e.g. after an action). */
  version?: unknown;
}

/** GETs `path` (none while null), again when it or `version` changes, on reload(), and on a timer if asked. */
export function useResource<T>(path: string | null, options: ResourceOptions<T> = {}): Resource<T> {
  const { refreshMs, refreshWhile, version } = options;
  const [data, setData] = useState<T | undefined>(undefined);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  useEffect(() => {
    if (path === null) return undefined;
    let current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const again = (value?: T) => {
      if (refreshMs && (value === undefined || !refreshWhile || refreshWhile(value))) timer = setTimeout(reload, refreshMs);
    };
    setLoading(true);
    get<T>(path).then(
      (value) => {
        if (!current) return;
        setData(value);
        setProblem(undefined);
        setLoading(false);
        again(value);
      },
      (err: unknown) => {
        if (!current) return;
        setProblem(asProblem(err));
        setLoading(false);
        again();
      },
    );
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [path, generation, refreshMs, version]);
  return { data, problem, loading, reload };
}

export const asProblem = (err: unknown): ApiProblem => (err instanceof ApiProblem ? err : new ApiProblem(0, 'Something went wrong', String(err)));

export function ProblemBox({ problem }: { problem: ApiProblem | undefined }) {
  if (!problem) return null;
  return (
    <div class="problem" role="alert">
      <strong class="problem-title">{problem.title}</strong>
      {problem.detail ? <span class="problem-detail"> — {problem.detail}</span> : null}
    </div>
  );
}

/** The resource's content once it has some; its problem in place; a quiet line while it loads. */
export function Loaded<T>({ resource, children }: { resource: Resource<T>; children: (data: T) => ComponentChildren }) {
  return (
    <>
      <ProblemBox problem={resource.problem} />
      {resource.data !== undefined ? children(resource.data) : resource.loading ? <p class="muted">Loading…</p> : null}
    </>
  );
}

const tones: Record<string, string> = {
  ready: 'good', healthy: 'good', succeeded: 'good', done: 'good', delivered: 'good', pass: 'good', issued: 'good', completed: 'good',
  degraded: 'warn', rolled_back: 'warn', paused: 'warn', halted: 'warn', suspended: 'warn', cancelled: 'warn', compensated: 'warn', healed: 'warn', draft: 'warn', deleting: 'warn',
  failed: 'bad', unhealthy: 'bad', aborted: 'bad', fail: 'bad',
  running: 'busy', provisioning: 'busy', upgrading: 'busy', suspending: 'busy', resuming: 'busy', changing_plan: 'busy', restoring: 'busy', pending: 'idle',
};

export const Badge = ({ value, label }: { value: string; label?: string }) => (
  <span class={`badge badge-${tones[value] ?? 'idle'}`} data-value={value}>
    {label ? `${label}: ` : ''}
    {value.replace(/_/g, ' ')}
  </span>
);

export const when = (iso: string | undefined | null): string => (iso ? new Date(iso).toLocaleString('en-GB', { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'medium' }) + ' UTC' : '—');

export function took(startedAt?: string, endedAt?: string): string {
  if (!startedAt || !endedAt) return '';
  return `${((Date.parse(endedAt) - Date.parse(startedAt)) / 1000).toFixed(1)} s`;
}

export const money = (cents: number, currency: string): string => new Intl.NumberFormat('en', { style: 'currency', currency }).format(cents / 100);

const marks: Record<Step['status'], string> = { pending: '○', running: '◔', done: '✓', failed: '✗', compensated: '↺' };

export function Steps({ steps, label }: { steps: Step[]; label: string }) {
  return (
    <ol class="steps" aria-label={label}>
      {steps.map((step) => (
        <li class={`step step-${step.status}`} data-step={step.name} data-status={step.status} key={step.name}>
          <span class="step-mark" aria-hidden="true">{marks[step.status]}</span>
          <span class="step-name">{step.name}</span>
          <Badge value={step.status} />
          {step.attempt > 1 ? <span class="muted"> attempt {step.attempt}</span> : null}
          <span class="muted"> {took(step.startedAt, step.endedAt)}</span>
          {step.detail && step.status === 'running' ? <div class="step-detail">waiting: {step.detail}</div> : null}
          {step.error ? <div class="step-error">{step.error}</div> : null}
        </li>
      ))}
    </ol>
  );
}

const TALLY_ROWS = 6;

/** Bars of counts by name, largest first (the long tail summed up as one row): instances by status, plan, … */
export function TallyBars({ title, tally: all }: { title: string; tally: { key: string; count: number }[] }) {
  const rest = all.slice(TALLY_ROWS - 1);
  const tally = all.length <= TALLY_ROWS ? all : [...all.slice(0, TALLY_ROWS - 1), { key: `${rest.length} others`, count: rest.reduce((sum, t) => sum + t.count, 0) }];
  const max = Math.max(1, ...tally.map((t) => t.count));
  return (
    <section class="card tally" aria-labelledby={`tally-${title}`}>
      <h3 id={`tally-${title}`}>{title}</h3>
      {tally.length === 0 ? <p class="muted">none</p> : null}
      <table class="bars">
        <caption class="visually-hidden">Instances by {title.toLowerCase()}</caption>
        <tbody>
          {tally.map((t) => (
            <tr key={t.key}>
              <th scope="row">{t.key.replace(/_/g, ' ')}</th>
              <td class="bar-cell">
                <span class="bar" style={{ width: `${(t.count / max) * 100}%` }} />
              </td>
              <td class="num">{t.count}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export interface Series {
  name: string;
  className: string;
}

/** Stacked columns, one per label: operations per hour, usage per meter, … */
export function StackedColumns({ title, labels, series, values, height = 140 }: { title: string; labels: string[]; series: Series[]; values: number[][]; height?: number }) {
  const width = Math.max(240, labels.length * 22);
  const totals = values.map((column) => column.reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...totals);
  const column = width / Math.max(1, labels.length);
  const described = series.map((s, i) => `${s.name} ${values.reduce((sum, col) => sum + (col[i] ?? 0), 0)}`).join(', ');
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height + 18}`} role="img" aria-label={`${title}: ${described}`} preserveAspectRatio="none">
        <title>{`${title}: ${described}`}</title>
        <line x1="0" y1={height} x2={width} y2={height} class="axis" />
        {values.map((col, x) => {
          let y = height;
          return (
            <g key={labels[x]}>
              {col.map((value, s) => {
                const h = (value / max) * (height - 4);
                y -= h;
                return value > 0 ? <rect key={s} x={x * column + 2} y={y} width={column - 4} height={h} class={series[s]!.className}><title>{`${labels[x]}: ${value} ${series[s]!.name}`}</title></rect> : null;
              })}
              {labels.length <= 12 || x % 3 === 0 ? (
                <text x={x * column + column / 2} y={height + 14} text-anchor="middle" class="tick">{labels[x]}</text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <figcaption class="legend">
        {series.map((s, i) => (
          <span key={s.name}>
            <span class={`swatch ${s.className}`} aria-hidden="true" /> {s.name} ({values.reduce((sum, col) => sum + (col[i] ?? 0), 0)})
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

/** Cursor pages: the cursors of the pages before are kept, so Previous needs no request but the page's own. */
export function usePager(reset: unknown) {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  useEffect(() => setCursors([undefined]), [reset]);
  const cursor = cursors.at(-1);
  return {
    cursor,
    page: cursors.length,
    next: (nextCursor: string) => setCursors((c) => [...c, nextCursor]),
    previous: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
  };
}

export function Pager({ pager, nextCursor, label }: { pager: ReturnType<typeof usePager>; nextCursor: string | null | undefined; label: string }) {
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" disabled={pager.page === 1} onClick={pager.previous}>
        Previous
      </button>
      <span>Page {pager.page}</span>
      <button type="button" disabled={!nextCursor} onClick={() => nextCursor && pager.next(nextCursor)}>
        Next
      </button>
    </nav>
  );
}

/**
 * A confirmation in a modal dialog, naming what it will do. `onConfirm` runs the action; its
 * problem, if any, is shown in the dialog, which stays open.
 */
export function ConfirmDialog({ title, children, confirmLabel, onConfirm, onClose }: {
  title: string;
  children?: ComponentChildren;
  confirmLabel: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      await onConfirm();
      ref.current?.close();
      onClose();
    } catch (err) {
      setProblem(asProblem(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="dialog-title" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} method="dialog">
        <h2 id="dialog-title">{title}</h2>
        {children}
        <ProblemBox problem={problem} />
        <div class="dialog-buttons">
          <button type="button" onClick={() => { ref.current?.close(); onClose(); }}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** A labelled form control: the label names the control alone (not, say, a select's options too). */
export function Field({ label, children }: { label: string; children: VNode }) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {cloneElement(children, { id })}
    </div>
  );
}
