// Live progress of one operation: each step as it runs (spinner, elapsed time, what it waits for),
// ticks for the done ones, a cross and the undo steps when it fails. On a terminal a listr2 task
// list; elsewhere (CI logs, pipes) one plain line per change. Both are fed the same changes, which
// come from comparing successive snapshots of the operation: stream or poll, a fast step that
// went from pending to done between two snapshots still shows as started and done.
import { Listr } from 'listr2';
import type { Operation, Step } from '../../client/index';
import { formatDuration } from './output';

export type StepChange =
  | { type: 'started'; step: Step }
  | { type: 'waiting'; step: Step }
  | { type: 'done'; step: Step }
  | { type: 'failed'; step: Step }
  | { type: 'undone'; step: Step };

const settled = (status: Step['status']) => status === 'done' || status === 'failed' || status === 'compensated';

/** What changed between two snapshots of an operation's steps, in the order it happened. */
export function stepChanges(previous: readonly Step[] | undefined, next: readonly Step[]): StepChange[] {
  const before = new Map((previous ?? []).map((s) => [s.name, s]));
  const changes: StepChange[] = [];
  const undone: StepChange[] = [];
  for (const step of next) {
    const was = before.get(step.name);
    const wasStatus = was?.status ?? 'pending';
    if (step.status === 'pending') continue;
    // A retry of a failed step (attempt grew) starts it again.
    const restarted = was !== undefined && step.attempt > was.attempt && step.status === 'running';
    if ((wasStatus === 'pending' || restarted) && step.status !== 'compensated') changes.push({ type: 'started', step });
    if (step.status === 'running' && step.detail && (step.detail !== was?.detail || wasStatus !== 'running')) changes.push({ type: 'waiting', step });
    if (step.status === 'done' && wasStatus !== 'done') changes.push({ type: 'done', step });
    if (step.status === 'failed' && wasStatus !== 'failed') changes.push({ type: 'failed', step });
    if (step.status === 'compensated' && wasStatus !== 'compensated') {
      // Undone between two snapshots without being seen done: it ran, then was undone.
      if (wasStatus === 'pending' || wasStatus === 'running') changes.push({ type: 'started', step }, { type: 'done', step });
      undone.push({ type: 'undone', step });
    }
  }
  // Undos run newest first: the last step undone is listed first.
  return [...changes, ...undone.reverse()];
}

export const stepDuration = (step: Step, now = Date.now()): string | undefined =>
  step.startedAt ? formatDuration((step.endedAt ? Date.parse(step.endedAt) : now) - Date.parse(step.startedAt)) : undefined;

/** The line that ends a watch: how the operation ended, after how long, and why. */
export function outcomeLine(operation: Operation): string {
  const took = operation.endedAt ? ` in ${formatDuration(Date.parse(operation.endedAt) - Date.parse(operation.startedAt))}` : '';
  const mark = operation.status === 'succeeded' ? '✓' : '✗';
  return `${mark} ${operation.kind} ${operation.id} ${operation.status.replace('_', ' ')}${took}${operation.error ? `: ${operation.error}` : ''}`;
}

export function headerLine(operation: Operation, instance?: string): string {
  return `${operation.kind} ${operation.id}${instance ? ` on ${instance}` : ''}${operation.temporalUiUrl ? `  (${operation.temporalUiUrl})` : ''}`;
}

export interface ProgressView {
  update(operation: Operation): void;
  /** Once, with the final snapshot; resolves when the view has drawn it. */
  end(operation: Operation): Promise<void>;
  /** Stops drawing (Ctrl-C) without claiming an outcome. */
  stop(): void;
}

/** One line per change, for logs: `  ✓ create namespace (0.8s)`. */
export function plainProgress(write: (line: string) => void, instance?: string): ProgressView {
  let previous: Operation | undefined;
  const view: ProgressView = {
    update(operation) {
      if (!previous) write(headerLine(operation, instance));
      for (const change of stepChanges(previous?.steps, operation.steps)) write(`  ${plainLine(change)}`);
      previous = operation;
    },
    async end(operation) {
      view.update(operation);
      write(outcomeLine(operation));
    },
    stop() {},
  };
  return view;
}

function plainLine(change: StepChange): string {
  const { step } = change;
  const took = stepDuration(step);
  switch (change.type) {
    case 'started':
      return `… ${step.name}${step.attempt > 1 ? ` (attempt ${step.attempt})` : ''}`;
    case 'waiting':
      return `… ${step.name}: ${step.detail}`;
    case 'done':
      return `✓ ${step.name}${took ? ` (${took})` : ''}`;
    case 'failed':
      return `✗ ${step.name}${took ? ` (${took})` : ''}${step.error ? `: ${step.error}` : ''}`;
    case 'undone':
      return `↺ undo ${step.name}`;
  }
}

interface StepTask {
  step: Step;
  settle?: () => void;
  settledOnce: Promise<void>;
}

/**
 * A listr2 task per step, run in order: a task spins while its step runs (title with the elapsed
 * time, output with what it waits for), ticks when done, crosses with the error when failed. A
 * last task, shown only on failure or cancel, lists the undo steps as they run.
 */
export function terminalProgress(instance?: string): ProgressView {
  let tasks: Map<string, StepTask> | undefined;
  let list: Listr<Record<string, never>> | undefined;
  let running: Promise<unknown> | undefined;
  let ended: Operation | undefined;
  const undoTask: { output: string[] } = { output: [] };
  let previous: Operation | undefined;
  let undoing = false;
  let finishUndo: () => void = () => {};
  const undoDone = new Promise<void>((resolve) => (finishUndo = resolve));

  const start = (operation: Operation) => {
    tasks = new Map(
      operation.steps.map((step) => {
        const entry: StepTask = { step, settledOnce: Promise.resolve() };
        entry.settledOnce = new Promise<void>((resolve) => (entry.settle = resolve));
        return [step.name, entry];
      }),
    );
    console.log(headerLine(operation, instance));
    list = new Listr<Record<string, never>>(
      [
        ...[...tasks.values()].map((entry) => ({
          title: entry.step.name,
          task: async (_ctx: unknown, task: { title: string; output: string; skip(message?: string): void }) => {
            const tick = setInterval(() => {
              if (entry.step.status === 'running') task.title = `${entry.step.name} ${dim(stepDuration(entry.step) ?? '')}`;
            }, 250);
            const showDetail = () => {
              if (entry.step.detail && entry.step.status === 'running') task.output = entry.step.detail;
            };
            const detail = setInterval(showDetail, 250);
            try {
              await entry.settledOnce;
            } finally {
              clearInterval(tick);
              clearInterval(detail);
            }
            const { step } = entry;
            const took = stepDuration(step);
            task.title = `${step.name}${took ? ` ${dim(took)}` : ''}`;
            if (step.status === 'failed') throw new Error(step.error ?? 'failed');
            if (step.status === 'pending' || step.status === 'running') task.skip(`${step.name} ${dim('(not run)')}`);
          },
        })),
        {
          title: 'undo',
          enabled: () => undoing,
          task: async (_ctx: unknown, task: { title: string; output: string }) => {
            task.title = 'undoing what was done';
            const draw = setInterval(() => (task.output = undoTask.output.join('\n')), 200);
            await undoDone;
            clearInterval(draw);
            task.output = undoTask.output.join('\n');
            task.title = `undone ${dim(`(${undoTask.output.length} step${undoTask.output.length === 1 ? '' : 's'})`)}`;
          },
          rendererOptions: { persistentOutput: true, outputBar: Infinity },
        },
      ],
      {
        concurrent: false,
        exitOnError: false,
        registerSignalListeners: false,
        rendererOptions: { collapseErrors: false, showErrorMessage: true },
      },
    );
    running = list.run().catch(() => undefined);
  };

  const view: ProgressView = {
    update(operation) {
      if (!tasks) start(operation);
      for (const change of stepChanges(previous?.steps, operation.steps)) {
        if (change.type === 'undone') {
          undoing = true;
          undoTask.output.push(`↺ ${change.step.name}`);
        }
      }
      for (const step of operation.steps) {
        const entry = tasks!.get(step.name);
        if (!entry) continue;
        entry.step = step;
        if (settled(step.status)) entry.settle?.();
      }
      if (operation.status !== 'running') undoing = undoing || operation.status !== 'succeeded';
      previous = operation;
    },
    async end(operation) {
      ended = operation;
      view.update(operation);
      // Steps that never ran are skipped; the undo list is complete.
      for (const entry of tasks!.values()) entry.settle?.();
      finishUndo();
      await running;
      console.log(outcomeLine(ended));
    },
    stop() {
      for (const entry of tasks?.values() ?? []) entry.settle?.();
      finishUndo();
    },
  };
  return view;
}

const dim = (text: string) => (process.stdout.isTTY ? `\u001b[2m${text}\u001b[22m` : text);
