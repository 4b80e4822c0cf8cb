// Runs before anything that needs node_modules: a fresh clone has none, and a
// changed lockfile means the installed tree is stale. Plain Node on purpose.
import { existsSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');

const stale = !existsSync(installed) || statSync(lock).mtimeMs > statSync(installed).mtimeMs;
if (stale) {
  // `npm install`, not `npm ci`: the npm 11 here leaves other platforms' optional packages out
  // of the lockfile and `npm ci` then refuses it as out of sync; install still honours the
  // locked versions.
  console.log('bootstrap: installing npm dependencies (npm install)');
  // --prefer-offline: what npm's cache holds is used without asking the registry again.
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}
