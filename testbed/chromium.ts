// Debian's Chromium, for the dashboard's browser tests (playwright-core drives it; no browser is
// downloaded). Installed with apt-get when missing, as the testbed installs PostgreSQL; present,
// it costs one stat.
import { existsSync } from 'node:fs';
import { logFileFor, run, TestbedError } from './runtime';

export const CHROMIUM = '/usr/bin/chromium';
const NAME = 'chromium';

export async function ensureChromium(say: (message: string) => void = (m) => console.log(`[${NAME}] ${m}`)): Promise<string> {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (process.getuid?.() !== 0) {
    throw new TestbedError(NAME, `no ${CHROMIUM}; install Debian's chromium package (apt-get install -y chromium, as root)`);
  }
  const logFile = logFileFor('chromium-install');
  say(`no ${CHROMIUM}; installing Debian's chromium package (log: ${logFile})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // The package lists may be fresh enough already; only a failed install reads them again.
  await run(NAME, 'apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { logFile, env, timeoutMs: 600_000 }).catch(async () => {
    await run(NAME, 'apt-get', ['update'], { logFile, env, timeoutMs: 300_000 });
    await run(NAME, 'apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { logFile, env, timeoutMs: 600_000 });
  });
  if (!existsSync(CHROMIUM)) throw new TestbedError(NAME, `apt-get installed chromium but ${CHROMIUM} is still missing`, undefined, logFile);
  return CHROMIUM;
}
