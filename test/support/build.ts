// The production build that the test processes run: the Dockerfile's `build` stage command
// (`npm run build`), made once per test run by the global setup. Shipyard's processes in the
// end-to-end tests start from it as the image starts them, in a third of the CPU time of tsx
// bundling the workflows at every start; in-process workers load its workflow bundle.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../testbed/runtime';
import { instructionsOf, parseDockerfile, shellOf, stageNamed } from './dockerfile';

const dist = join(repoRoot, 'dist');

/** How `startProcess` runs `shipyard` from the build (node_modules from the checkout). */
export const shipyardFromBuild = { command: [process.execPath, join(dist, 'shipyard.js')], cwd: repoRoot };

/** The prebuilt workflow bundle, for `Worker.create({ workflowBundle })`. */
export const prebuiltWorkflowBundle = { codePath: join(dist, 'workflow-bundle.js') };

/** The Dockerfile's `build` stage's last RUN, as written. */
const buildCommand = (): string =>
  shellOf(instructionsOf(stageNamed(parseDockerfile(join(repoRoot, 'Dockerfile')), 'build'), 'RUN').at(-1)!);

export async function buildForTests(): Promise<void> {
  await promisify(execFile)('sh', ['-c', buildCommand()], { cwd: repoRoot, env: { ...process.env, NODE_OPTIONS: '' } });
}
