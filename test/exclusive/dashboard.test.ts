// The dashboard in a real browser (Debian's Chromium, headless, through playwright-core) against a
// whole Shipyard on the testbed: what an operator sees and does, page by page. Each page is
// checked with axe-core and photographed (.shipyard/artifacts/dashboard/; with
// SHIPYARD_UPDATE_SCREENSHOTS=1 a few are copied to docs/images/ for the README).
// One stack, one browser and one tab for the whole file: the scenarios follow one another.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { namespaceFor } from '../../domain/instance';
import { repoRoot } from '../../testbed/runtime';
import { kubeMessage } from '../support/admission-policy';
import { artifactsDir, type Browser, launchBrowser, seriousViolations } from '../support/browser';
import { uniqueSuffix } from '../support/config';
import { type Stack, startStack } from '../support/stack';

const run = uniqueSuffix();
const uiSlug = `dash-${run}`;
// Provisioned through the API meanwhile, for the rollout.
const fleet = [`dash-${run}-a`, `dash-${run}-b`];
const shots = artifactsDir('dashboard');
const forReadme = new Set(['overview', 'instance-rolled-back', 'rollout-done', 'instances']);

let stack: Stack;
let browser: Browser;
let page: Page;
let fleetReady: Promise<void>;
let viewer: { id: string; key: string };
let kube: KubernetesObjectApi;

/**
 * Holds the UI's instance at "wait for rollout": the apiserver refuses its pods (a validating
 * admission policy on its namespace, made before the namespace exists) until `release()`. A
 * provision on the testbed otherwise ends in about two seconds, too soon to watch it at leisure.
 */
const hold = {
  policy: {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: `dashboard-hold-${run}` },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
        // The UI's namespace, and `default` to probe that the policy is in force before the UI provisions.
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [namespaceFor(uiSlug), 'default'] }] },
      },
      validations: [{ expression: 'false', message: 'held by the dashboard test' }],
    },
  },
  binding: {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: `dashboard-hold-${run}` },
    spec: { policyName: `dashboard-hold-${run}`, validationActions: ['Deny'] },
  },
  async start() {
    await kube.create(hold.policy);
    await kube.create(hold.binding);
    // The apiserver loads policies through informers: wait until a dry-run pod in `default` is refused by this one.
    const probe = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `hold-probe-${run}`, namespace: 'default' }, spec: { containers: [{ name: 'probe', image: 'probe' }] } };
    await vi.waitFor(
      async () => {
        const answer = await kube.create(probe, undefined, 'All').then(() => 'allowed', (err: unknown) => kubeMessage(err));
        expect(answer).toContain(`ValidatingAdmissionPolicy '${hold.policy.metadata.name}'`);
      },
      { timeout: 60_000, interval: 250 },
    );
  },
  async release() {
    await kube.delete(hold.binding).catch(() => undefined);
    await kube.delete(hold.policy).catch(() => undefined);
  },
};

/** The page as it is now: no serious or critical accessibility problem, and a screenshot. */
async function checkPage(name: string): Promise<void> {
  const file = join(shots, `${name}.png`);
  await page.screenshot({ path: file });
  if (process.env.SHIPYARD_UPDATE_SCREENSHOTS && forReadme.has(name)) {
    mkdirSync(join(repoRoot, 'docs/images'), { recursive: true });
    copyFileSync(file, join(repoRoot, 'docs/images', `dashboard-${name}.png`));
  }
  expect(await seriousViolations(page), `accessibility of ${name}`).toEqual([]);
}

async function signIn(key: string): Promise<void> {
  await page.goto(`${stack.api.baseUrl}/ui/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Pages' }).waitFor();
}

const open = (...parts: string[]) => page.goto(`${stack.api.baseUrl}/ui/#/${parts.join('/')}`);
const status = () => page.getByTestId('instance-status').locator('[data-value]').getAttribute('data-value');

beforeAll(async () => {
  // Rollouts that never become ready give up soon, but not before a held provision is let go.
  [stack, browser] = await Promise.all([startStack({ SHIPYARD_ROLLOUT_TIMEOUT_SECONDS: '25' }), launchBrowser()]);
  page = await browser.context.newPage();
  const config = new KubeConfig();
  config.loadFromFile(stack.config.kubeconfig!);
  kube = KubernetesObjectApi.makeApiClient(config);
  // In force before the UI provisions.
  await hold.start();
  const created = await Promise.all(
    fleet.map((slug) => stack.api.call('POST', '/v1/instances', { name: `Dash ${slug.slice(-1)}`, slug, plan: 'starter', ownerEmail: `fleet-${run}@dash.test`, version: '1.0.0' })),
  );
  for (const res of created) expect(res.status, JSON.stringify(res.body)).toBe(202);
  fleetReady = Promise.all(created.map((res) => stack.api.settled(res.body.operation.id))).then((ops) => {
    for (const op of ops) expect(op.status).toBe('succeeded');
  });
  fleetReady.catch(() => undefined);
  const key = await stack.api.call('POST', '/v1/api-keys', { name: `dash-viewer-${run}`, role: 'viewer' });
  expect(key.status).toBe(201);
  viewer = { id: key.body.apiKey.id, key: key.body.key };
}, 300_000);

afterAll(async () => {
  await browser?.close();
  if (kube) await hold.release();
  if (!stack) return;
  await stack.api.call('DELETE', `/v1/api-keys/${viewer?.id}`);
  const deleted = await Promise.all([uiSlug, ...fleet].map((slug) => stack.api.call('DELETE', `/v1/instances/${slug}`)));
  await Promise.all(deleted.filter((d) => d.status === 202).map((d) => stack.api.settled(d.body.operation.id)));
  await stack.stop();
}, 300_000);

describe('the dashboard, in a browser', () => {
  it('is served at /ui without a key, its data only with one, and asks for a key first', async () => {
    const index = await fetch(`${stack.api.baseUrl}/ui/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    // Everything it loads comes from Shipyard itself.
    expect(await index.text()).not.toMatch(/https?:\/\//);
    expect((await fetch(`${stack.api.baseUrl}/v1/me`)).status).toBe(401);
    // The page is no part of the API's description.
    const openapi = (await (await fetch(`${stack.api.baseUrl}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths).filter((path) => path.startsWith('/ui'))).toEqual([]);

    await page.goto(`${stack.api.baseUrl}/ui/`);
    await checkPage('sign-in');
    await page.getByLabel('API key').fill('sy_not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('unknown or revoked API key');

    await signIn(stack.config.adminKey!);
    await expect.poll(() => page.getByTestId('who').textContent()).toContain('admin');
    // The key stays in this tab's session only.
    const stored = await page.evaluate(() => {
      const scope = globalThis as unknown as { sessionStorage: { length: number }; localStorage: { length: number }; location: { href: string } };
      return { session: scope.sessionStorage.length, local: scope.localStorage.length, url: scope.location.href };
    });
    expect(stored).toMatchObject({ session: 1, local: 0 });
    expect(stored.url).not.toContain(stack.config.adminKey!);
    await page.getByTestId('instance-total').waitFor();
    await checkPage('overview');
  });

  it('provisions an instance and shows its steps turning done one by one until it is ready', async () => {
    await open('instances');
    await page.getByRole('button', { name: 'New instance' }).click();
    const dialog = page.getByRole('dialog', { name: 'New instance' });
    await dialog.getByLabel('Name').fill('Dashboard Demo');
    await dialog.getByLabel('Slug (optional)').fill(uiSlug);
    await dialog.getByLabel('Plan').selectOption('starter');
    await dialog.getByLabel('Owner email').fill('ops@dash.test');
    await dialog.getByLabel('Version (optional)').fill('1.0.0');
    await dialog.getByRole('button', { name: 'Provision' }).click();
    await page.waitForURL(`**/ui/#/instances/${uiSlug}`);

    // Every state of the running operation's steps the page shows (done / all), as it changes.
    await page.evaluate(() => {
      const scope = globalThis as unknown as { document: any; seen: string[]; MutationObserver: any };
      scope.seen = [];
      const record = () => {
        const list = scope.document.querySelector('[aria-label="Steps of the running provision"]');
        if (!list) return;
        const state = `${list.querySelectorAll('[data-status="done"]').length}/${list.children.length}`;
        if (scope.seen.at(-1) !== state) scope.seen.push(state);
      };
      record();
      new scope.MutationObserver(record).observe(scope.document.body, { subtree: true, childList: true, attributes: true });
    });
    // Held at its last step, which says what it waits for.
    const waiting = page.locator('[aria-label="Steps of the running provision"] [data-step="wait for rollout"][data-status="running"]');
    await waiting.locator('.step-detail').waitFor({ timeout: 30_000 });
    expect(await waiting.locator('.step-detail').textContent()).toMatch(/^waiting: .+/);
    await checkPage('instance-provisioning');
    await hold.release();
    await expect.poll(status, { timeout: 120_000, interval: 100 }).toBe('ready');

    const seen = await page.evaluate(() => (globalThis as unknown as { seen: string[] }).seen);
    const done = seen.map((s) => s.split('/').map(Number) as [number, number]).filter(([, all]) => all > 0).map(([d]) => d);
    const steps = (await stack.api.call('GET', `/v1/instances/${uiSlug}/operations`)).body.items[0].steps as { status: string }[];
    // Seen under way (its first steps done, its last waiting), never going back. Polling (once a
    // second, until the API streams operations) sees the states a second apart; on the testbed the
    // first nine steps take less than that, and the held one as long as the test likes.
    expect(done.some((d) => d > 0 && d < steps.length), `states seen: ${seen.join(' → ')}`).toBe(true);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(done.at(-1)).toBeGreaterThanOrEqual(steps.length - 1);
    expect(steps.every((s) => s.status === 'done')).toBe(true);
    await expect.poll(() => page.locator('[data-kind="provision"]').getAttribute('data-status')).toBe('succeeded');
    await checkPage('instance');
  });

  it('upgrades it to a version that never becomes ready, and shows the rollback and its error', async () => {
    await page.getByRole('button', { name: 'Upgrade' }).click();
    const dialog = page.getByRole('dialog');
    // The confirmation names the instance it acts on.
    expect(await dialog.getByRole('heading').textContent()).toContain(uiSlug);
    await dialog.getByLabel('New version').fill('fail-2.0.0');
    await dialog.getByRole('button', { name: 'Upgrade' }).click();
    await page.getByRole('list', { name: 'Steps of the running upgrade' }).waitFor();
    const upgrade = page.locator('[data-kind="upgrade"]').first();
    await expect.poll(() => upgrade.getAttribute('data-status'), { timeout: 120_000, interval: 500 }).toBe('rolled_back');
    expect(await upgrade.locator('.operation-error').textContent()).toMatch(/fail-2\.0\.0/);
    expect(await upgrade.locator('[data-status="compensated"], [data-status="failed"]').count()).toBeGreaterThan(0);
    await expect.poll(status).toBe('ready');
    expect(await page.getByTestId('instance-version').textContent()).toBe('1.0.0');
    await checkPage('instance-rolled-back');

    // The overview counts it among the newest failures, linked to the instance.
    await open('');
    await page.getByRole('link', { name: uiSlug, exact: true }).first().waitFor();
  });

  it('starts a rollout over a few instances, pauses and resumes it, and shows it finish', async () => {
    await fleetReady;
    await open('rollouts');
    await page.getByRole('button', { name: 'Start rollout' }).click();
    const dialog = page.getByRole('dialog', { name: 'Start a rollout' });
    await dialog.getByLabel('Version', { exact: true }).fill('1.1.0');
    await dialog.getByLabel('Slugs').fill([uiSlug, ...fleet].join(', '));
    await dialog.getByLabel('Waves (cumulative %)').fill('50, 100');
    await dialog.getByLabel('Upgrades in parallel').fill('1');
    await dialog.getByLabel('Seconds between waves').fill('2');
    await dialog.getByRole('button', { name: 'Start rollout' }).click();
    await page.waitForURL(/\/ui\/#\/rollouts\/[^/]+$/);
    const rolloutStatus = () => page.getByTestId('rollout-status').locator('[data-value]').getAttribute('data-value');
    await expect.poll(rolloutStatus).toBe('running');

    await page.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(rolloutStatus).toBe('paused');
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    await checkPage('rollout-paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(rolloutStatus, { timeout: 150_000, interval: 500 }).toBe('succeeded');
    expect(await page.getByTestId('rollout-counts').textContent()).toContain('3 succeeded');
    // Every wave filled.
    expect(await page.locator('[data-wave]').evaluateAll((waves) => waves.map((w) => (w as unknown as { dataset: { status: string } }).dataset.status))).toEqual(
      expect.arrayContaining(['done']),
    );
    expect(await page.locator('[data-wave]:not([data-status="done"])').count()).toBe(0);
    await checkPage('rollout-done');
    for (const slug of [uiSlug, ...fleet]) {
      expect((await stack.api.call('GET', `/v1/instances/${slug}`)).body).toMatchObject({ status: 'ready', version: '1.1.0' });
    }
    await open('rollouts');
    await page.locator('tbody tr').first().waitFor();
    await checkPage('rollouts');
  });

  it('lists instances with filters and search, and shows invoices and webhooks', async () => {
    await open('instances');
    await page.getByLabel('Search slug or owner').fill(`dash-${run}`);
    await expect.poll(() => page.locator('tbody tr[data-slug]').count()).toBe(3);
    await page.getByLabel('Plan', { exact: true }).selectOption('starter');
    await page.getByLabel('Version', { exact: true }).fill('1.0.0');
    await page.getByText('No instance matches.').waitFor();
    await page.getByLabel('Version', { exact: true }).fill('1.1.0');
    await expect.poll(() => page.locator('tbody tr[data-slug]').count()).toBe(3);
    await checkPage('instances');
    await page.getByLabel('Search slug or owner').fill(`FLEET-${run}@dash`);
    await expect.poll(() => page.locator('tbody tr[data-slug]').count()).toBe(2);

    await open('invoices');
    await page.getByRole('heading', { name: 'Invoices' }).waitFor();
    await page.locator('tbody tr').first().waitFor();
    await checkPage('invoices');
    await open('webhooks');
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await page.locator('ul.plain li').first().waitFor();
    await checkPage('webhooks');

    // A refusal from the API shows as the problem's title and detail, in place.
    await open('instances', `no-such-${run}`);
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/Not found.*no instance/);
  });

  it('offers a viewer key no actions, and the API refuses the action when called directly', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(viewer.key);
    await expect.poll(() => page.getByTestId('who').textContent()).toContain('viewer');
    await open('instances', uiSlug);
    await page.getByRole('heading', { name: 'Operations' }).waitFor();
    expect(await page.getByRole('region', { name: 'Actions' }).count()).toBe(0);
    for (const name of ['Upgrade', 'Suspend', 'Delete', 'Back up']) expect(await page.getByRole('button', { name }).count()).toBe(0);
    await checkPage('instance-viewer');
    await open('instances');
    await page.locator('tbody tr').first().waitFor();
    expect(await page.getByRole('button', { name: 'New instance' }).count()).toBe(0);
    await open('rollouts');
    await page.getByRole('heading', { name: 'Rollouts' }).waitFor();
    expect(await page.getByRole('button', { name: 'Start rollout' }).count()).toBe(0);
    // Not offered for admins only either.
    expect(await page.getByRole('link', { name: 'Webhooks' }).count()).toBe(0);

    const refused = await page.evaluate(
      async ({ slug, key }) => {
        const res = await fetch(`/v1/instances/${slug}/suspend`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
        return { status: res.status, body: (await res.json()) as { title: string; detail: string } };
      },
      { slug: uiSlug, key: viewer.key },
    );
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toContain('operator');
    expect((await stack.api.call('GET', `/v1/instances/${uiSlug}`)).body.status).toBe('ready');
  });
});
