// The `shipyard` CLI as an operator runs it: the built binary (dist/shipyard.js) as a child
// process with only the environment given, answering with its exit code and output.
import { execFile } from 'node:child_process';
import { shipyardFromBuild } from './build';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `shipyard …args` from the build with `env` (and PATH) as its whole environment. */
export function runShipyardCli(args: string[], env: Record<string, string | undefined>): Promise<CliRun> {
  const [node, script] = shipyardFromBuild.command;
  return new Promise((resolve) => {
    execFile(node!, [script!, ...args], { cwd: shipyardFromBuild.cwd, env: { PATH: process.env.PATH, ...env }, timeout: 170_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A run as a failed assertion's message shows it. */
export const showRun = (run: CliRun) => `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
