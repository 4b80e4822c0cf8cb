// `helm`, for the chart tests: built from its Go module once and cached, like the testbed's
// other Go binaries (no prebuilt Helm comes from the registries this machine reaches).
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, ensureDir, logFileFor, onPath, run, TestbedError } from './runtime';

export const HELM_VERSION = 'v3.21.4';
const MODULE = 'helm.sh/helm/v3/cmd/helm';
const cachedBinary = join(cacheDir, 'bin', `helm-${HELM_VERSION}`);

/**
 * The cached helm of the pinned version, built now when missing (~6 min on 2 cores).
 * A source build reports a low default Kubernetes version, so pass `--kube-version` to `template`/`lint`.
 */
export async function helmBinary(say: (message: string) => void = console.log): Promise<string> {
  if (existsSync(cachedBinary)) return cachedBinary;
  if (!onPath('go')) throw new TestbedError('helm', `no ${cachedBinary} and no Go toolchain to build it with`);
  const logFile = logFileFor('helm-build');
  // go install names the binary after the package: build into a versioned directory, then rename,
  // so the cached path only ever holds a finished binary of this version.
  const buildDir = ensureDir(join(cacheDir, 'build', `helm-${HELM_VERSION}`));
  ensureDir(join(cacheDir, 'bin'));
  say(`building helm ${HELM_VERSION} from its Go module (first time only; log: ${logFile})`);
  const started = Date.now();
  await run('helm', 'go', ['install', '-ldflags=-s -w', `${MODULE}@${HELM_VERSION}`], {
    logFile,
    env: { ...process.env, GOBIN: buildDir },
    timeoutMs: 30 * 60_000,
  });
  renameSync(join(buildDir, 'helm'), cachedBinary);
  say(`built ${cachedBinary} in ${Math.round((Date.now() - started) / 1000)}s`);
  return cachedBinary;
}
