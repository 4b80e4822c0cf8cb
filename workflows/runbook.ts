// A runbook is an operation's list of steps, run in order, each able to register how to
// undo it. It keeps the step table that users see (live through the progress query,
// and in the catalogue afterwards) and the saga's compensation stack.
import { ActivityFailure, ApplicationFailure, CancellationScope, isCancellation, log } from '@temporalio/workflow';
import type { Step } from '../domain/instance';
import type { OperationKind } from '../domain/operation-kinds';
import type { OperationProgress } from '../domain/operations';
import { atPriority, HIGHEST_PRIORITY, stepPriority } from './activities';

type Undo = () => Promise<unknown>;

export class Runbook {
  private readonly steps: Step[];
  private readonly compensations: { step: Step; undo: Undo }[] = [];

  constructor(
    readonly kind: OperationKind,
    stepNames: readonly string[],
  ) {
    this.steps = stepNames.map((name) => ({ name, status: 'pending', attempt: 0 }));
  }

  progress(): OperationProgress {
    return { kind: this.kind, steps: this.steps.map((s) => ({ ...s })) };
  }

  /**
   * Runs one step. Its `undo` joins the compensation stack *before* the action starts: a step
   * that changed the world and then failed, or was cancelled mid-flight, is undone too. Every
   * undo is safe on absent resources, so undoing a step that did nothing costs one look.
   */
  async step<T>(name: string, action: () => Promise<T>, undo?: Undo): Promise<T> {
    const step = this.find(name);
    step.status = 'running';
    step.attempt += 1;
    step.startedAt = now();
    delete step.endedAt;
    delete step.error;
    if (undo) this.compensations.push({ step, undo });
    try {
      const result = await atPriority(stepPriority(this.steps.indexOf(step), this.steps.length), action);
      step.status = 'done';
      step.endedAt = now();
      return result;
    } catch (err) {
      step.status = 'failed';
      step.endedAt = now();
      step.error = describeError(err);
      throw err;
    }
  }

  /**
   * Undoes every step that started, newest first. Runs even when the operation was cancelled;
   * a failing compensation is logged and recorded on its step, and never hides the original error.
   */
  async compensate(): Promise<string[]> {
    const problems: string[] = [];
    await CancellationScope.nonCancellable(async () => {
      while (this.compensations.length > 0) {
        const { step, undo } = this.compensations.pop()!;
        try {
          await atPriority(HIGHEST_PRIORITY, undo);
          // The step that failed keeps saying so (with its error); the ones before it were undone.
          if (step.status !== 'failed') step.status = 'compensated';
          step.endedAt = now();
        } catch (err) {
          const message = `undo of "${step.name}" failed: ${describeError(err)}`;
          log.error(message);
          step.error = message;
          problems.push(message);
        }
      }
    });
    return problems;
  }

  /**
   * Replaces the steps not yet started with `stepNames`: for a runbook whose way on depends on what
   * its first steps found (a move: whether both clusters reach one tenant database).
   */
  continueWith(stepNames: readonly string[]): void {
    const started = this.steps.filter((s) => s.status !== 'pending');
    this.steps.splice(0, this.steps.length, ...started, ...stepNames.map((name): Step => ({ name, status: 'pending', attempt: 0 })));
  }

  /** The operation's first step, which claims the instance. */
  get firstStep(): string {
    return this.steps[0]!.name;
  }

  get snapshot(): Step[] {
    return this.progress().steps;
  }

  private find(name: string): Step {
    const step = this.steps.find((s) => s.name === name);
    // A programming error in the workflow itself: fail the task so a fix can be deployed.
    if (!step) throw new Error(`runbook for ${this.kind} has no step "${name}"`);
    return step;
  }
}

/** Runs `body` with no cancellation: for bookkeeping that must happen after a cancel too. */
export function finallyRecord<T>(body: () => Promise<T>): Promise<T> {
  return CancellationScope.nonCancellable(body);
}

/** The message an operator needs: the activity's own error rather than the wrapper around it. */
export function describeError(err: unknown): string {
  if (isCancellation(err)) return 'cancelled';
  if (err instanceof ActivityFailure && err.cause) return describeError(err.cause);
  if (err instanceof ApplicationFailure) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

function now(): string {
  // Workflow time: deterministic, replayed from history.
  return new Date().toISOString();
}
