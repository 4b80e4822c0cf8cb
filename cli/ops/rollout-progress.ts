// Live progress of a rollout: its waves (the canary is wave 0) with a progress bar and the counts,
// and each failed upgrade as it happens. On a terminal a listr2 task per wave; elsewhere one line
// per change. Rollouts have no event stream: GET /v1/rollouts/{id} is polled.
import { Listr } from 'listr2';
import type { Rollout } from '../../client/index';
import { formatDuration } from './output';

export type Counts = Rollout['counts'];
type Wave = Rollout['waves'][number];

export const rolloutEnded = (status: Rollout['status']) => status === 'succeeded' || status === 'aborted' || status === 'failed';

/** `[██████░░░░░░]` for the share of a wave's upgrades that have ended, whatever their outcome. */
export function progressBar(counts: Counts, width = 20): string {
  const finished = counts.succeeded + counts.rolledBack + counts.failed + counts.skipped;
  const filled = counts.total === 0 ? width : Math.round((finished / counts.total) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

export function countsText(counts: Counts): string {
  const finished = counts.succeeded + counts.rolledBack + counts.failed + counts.skipped;
  const parts = [`${finished}/${counts.total}`, `${counts.succeeded} ok`];
  if (counts.running) parts.push(`${counts.running} running`);
  if (counts.rolledBack) parts.push(`${counts.rolledBack} rolled back`);
  if (counts.failed) parts.push(`${counts.failed} failed`);
  if (counts.skipped) parts.push(`${counts.skipped} skipped`);
  return parts.join(', ');
}

/**
 * The API's name of the wave (`canary`, `wave 2`; waving by region `eu canary`, `eu wave 1`). An
 * API from before wave names: wave 0 is the canary when the strategy has one, the waves after it
 * count from 1 either way.
 */
export const waveName = (wave: Wave, rollout: Pick<Rollout, 'strategy'>) =>
  (wave as Partial<Wave>).name ?? (rollout.strategy.canary > 0 ? (wave.index === 0 ? 'canary' : `wave ${wave.index}`) : `wave ${wave.index + 1}`);

export function waveLine(wave: Wave, rollout: Pick<Rollout, 'strategy'>): string {
  return `${waveName(wave, rollout).padEnd(7)} ${progressBar(wave.counts)} ${countsText(wave.counts)}`;
}

export function rolloutOutcomeLine(rollout: Rollout): string {
  const took = rollout.endedAt ? ` in ${formatDuration(Date.parse(rollout.endedAt) - Date.parse(rollout.startedAt))}` : '';
  return `${rollout.status === 'succeeded' ? '✓' : '✗'} rollout ${rollout.id} of ${rollout.version} ${rollout.status}${took}: ${countsText(rollout.counts)}${rollout.error ? ` — ${rollout.error}` : ''}`;
}

export const failureLine = (f: Rollout['failures'][number]) => `✗ ${f.slug}${f.operationId ? ` (${f.operationId})` : ''}: ${f.error}`;

export interface RolloutView {
  update(rollout: Rollout): void;
  end(rollout: Rollout): Promise<void>;
  stop(): void;
}

/** One line per change: a wave's counts when they move, a status change, each failure once. */
export function plainRolloutProgress(write: (line: string) => void): RolloutView {
  let previous: Rollout | undefined;
  const view: RolloutView = {
    update(rollout) {
      if (!previous) write(`rollout ${rollout.id} of ${rollout.version}: ${rollout.counts.total} instances in ${rollout.waves.length} waves${temporalLink(rollout)}`);
      for (const wave of rollout.waves) {
        const was = previous?.waves.find((w) => w.index === wave.index);
        if (wave.status !== 'pending' && JSON.stringify(was) !== JSON.stringify(wave)) write(waveLine(wave, rollout));
      }
      for (const failure of rollout.failures.slice(previous?.failures.length ?? 0)) write(failureLine(failure));
      // Paused, halted, resumed: the end has a line of its own (rolloutOutcomeLine).
      if (previous && previous.status !== rollout.status && !rolloutEnded(rollout.status)) write(`rollout ${rollout.status}`);
      previous = rollout;
    },
    async end(rollout) {
      view.update(rollout);
      write(rolloutOutcomeLine(rollout));
    },
    stop() {},
  };
  return view;
}

const temporalLink = (rollout: Rollout) => {
  const url = (rollout as Rollout & { temporalUiUrl?: string }).temporalUiUrl;
  return url ? `  (${url})` : '';
};

/** A listr2 task per wave: spinner and bar while it runs, a tick when done; failures as output. */
export function terminalRolloutProgress(): RolloutView {
  let latest: Rollout | undefined;
  let ended = false;
  let running: Promise<unknown> | undefined;
  const view: RolloutView = {
    update(rollout) {
      latest = rollout;
      if (running) return;
      console.log(`rollout ${rollout.id} of ${rollout.version}: ${rollout.counts.total} instances${temporalLink(rollout)}`);
      const list = new Listr(
        rollout.waves.map((first) => ({
          title: waveName(first, rollout),
          task: async (_ctx: unknown, task: { title: string; output: string }) => {
            for (;;) {
              const wave = latest!.waves.find((w) => w.index === first.index) ?? first;
              task.title = waveLine(wave, latest!);
              const failures = latest!.failures.map(failureLine);
              if (failures.length) task.output = failures.join('\n');
              if (wave.status === 'done') return;
              if (ended) throw new Error(`rollout ${latest!.status}`);
              if (latest!.status === 'paused' || latest!.status === 'halted') task.output = [`${latest!.status}: \`shipyard rollouts resume ${latest!.id}\` goes on`, ...failures].join('\n');
              await new Promise((r) => setTimeout(r, 200));
            }
          },
          rendererOptions: { outputBar: Infinity, persistentOutput: true },
        })),
        {
          concurrent: false,
          exitOnError: true,
          registerSignalListeners: false,
          rendererOptions: { collapseErrors: false },
        },
      );
      running = list.run().catch(() => undefined);
    },
    async end(rollout) {
      view.update(rollout);
      ended = true;
      await running;
      console.log(rolloutOutcomeLine(rollout));
    },
    stop() {
      ended = true;
    },
  };
  return view;
}
