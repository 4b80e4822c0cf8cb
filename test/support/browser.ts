// A real browser for the dashboard's tests: Debian's Chromium (installed by the testbed when
// missing) driven by playwright-core, headless, with a fresh profile and nothing of its own
// reaching out (the machine's network is closed; background services would only wait on it).
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ensureChromium } from '../../testbed/chromium';
import { repoRoot } from '../../testbed/runtime';

const require = createRequire(import.meta.url);

/** Screenshots of a run: in the checkout (gitignored), not in the shared testbed's state. */
export const artifactsDir = (name: string): string => {
  const dir = join(repoRoot, '.shipyard', 'artifacts', name);
  mkdirSync(dir, { recursive: true });
  return dir;
};

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const executablePath = await ensureChromium();
  const profile = mkdtempSync(join(tmpdir(), 'shipyard-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 860 },
    // axe-core goes in as an inline script, which the dashboard's Content-Security-Policy refuses.
    bypassCSP: true,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function seriousViolations(page: Page): Promise<{ id: string; impact: string | null; help: string; targets: string[] }[]> {
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  // Runs in the page (the Node side's lib has no DOM types): axe.run over the whole document.
  const violations = await page.evaluate(async () => {
    const scope = globalThis as unknown as { document: object; axe: { run(context: object, options: object): Promise<{ violations: AxeViolation[] }> } };
    const result = await scope.axe.run(scope.document, { resultTypes: ['violations'] });
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.flatMap((n) => n.target) }));
}
