// The dashboard: sign-in, then the fleet's pages. Served by the API at /ui.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiProblem, request, whenUnauthenticated } from './client';
import { fleetWide, may } from './auth';
import { ProblemBox, asProblem } from './components';
import { href, useRoute } from './router';
import { forgetKey, storedKey, storeKey } from './session';
import type { Me } from './types';
import { OverviewPage } from './pages/overview';
import { InstancesPage } from './pages/instances';
import { InstancePage } from './pages/instance';
import { RolloutsPage, RolloutPage } from './pages/rollouts';
import { InvoicesPage } from './pages/invoices';
import { WebhooksPage } from './pages/webhooks';
import './style.css';

async function whoIs(key: string): Promise<Me> {
  const res = await request('GET', '/v1/me', { key });
  return (await res.json()) as Me;
}

function SignIn({ onSignedIn, notice }: { onSignedIn: (me: Me) => void; notice?: ApiProblem }) {
  const [key, setKey] = useState('');
  const [problem, setProblem] = useState<ApiProblem | undefined>(notice);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      const me = await whoIs(key.trim());
      storeKey(key.trim());
      onSignedIn(me);
    } catch (err) {
      setProblem(asProblem(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Shipyard</h1>
      <form onSubmit={(e) => void submit(e)} class="card">
        <h2>Sign in</h2>
        <p class="muted">With a Shipyard API key. It is kept in this tab only, until the tab closes or you sign out.</p>
        <label class="field">
          <span>API key</span>
          <input type="password" name="apiKey" autocomplete="off" required value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </label>
        <ProblemBox problem={problem} />
        <button type="submit" class="primary" disabled={busy || key.trim() === ''}>
          Sign in
        </button>
      </form>
    </main>
  );
}

function App() {
  const [me, setMe] = useState<Me | undefined>(undefined);
  const [checking, setChecking] = useState(storedKey() !== null);
  const [notice, setNotice] = useState<ApiProblem | undefined>(undefined);
  const route = useRoute();

  useEffect(() => {
    whenUnauthenticated(() => {
      setMe(undefined);
      setNotice(new ApiProblem(401, 'Signed out', 'the API key was refused; sign in again'));
    });
    const key = storedKey();
    if (!key) return;
    whoIs(key).then(setMe, (err: unknown) => {
      forgetKey();
      setNotice(asProblem(err));
    }).finally(() => setChecking(false));
  }, []);

  if (checking) return <main><p class="muted">Loading…</p></main>;
  if (!me) return <SignIn onSignedIn={(m) => { setNotice(undefined); setMe(m); }} notice={notice} />;

  const [section = '', id] = route;
  const links: [string, string, boolean][] = [
    ['', 'Overview', true],
    ['instances', 'Instances', true],
    ['rollouts', 'Rollouts', fleetWide(me)],
    ['invoices', 'Invoices', true],
    ['webhooks', 'Webhooks', fleetWide(me) && may(me, 'admin')],
  ];
  let page;
  if (section === 'instances' && id) page = <InstancePage me={me} slug={id} />;
  else if (section === 'instances') page = <InstancesPage me={me} />;
  else if (section === 'rollouts' && id) page = <RolloutPage me={me} id={id} />;
  else if (section === 'rollouts') page = <RolloutsPage me={me} />;
  else if (section === 'invoices') page = <InvoicesPage />;
  else if (section === 'webhooks') page = <WebhooksPage />;
  else page = <OverviewPage me={me} />;

  return (
    <>
      <header class="top">
        <a class="brand" href={href()}>Shipyard</a>
        <nav aria-label="Pages">
          <ul>
            {links.filter(([, , shown]) => shown).map(([path, label]) => (
              <li key={path}>
                <a href={path ? href(path) : href()} aria-current={section === path ? 'page' : undefined}>{label}</a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span data-testid="who">{me.name} · {me.role}{me.owner ? ` · ${me.owner}` : ''}</span>
          <button type="button" onClick={() => { forgetKey(); setMe(undefined); }}>
            Sign out
          </button>
        </div>
      </header>
      <main>{page}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
