// The operator dashboard: sign-in, navigation between the pages (hash routes, so every page
// has a link), live updates from the controller's server-sent events.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { api, setCsrf } from './api.js';
import { startLive, stopLive, useLiveStatus } from './live.js';
import { ErrorNote } from './ui.js';
import { FleetPage } from './fleet.js';
import { RolloutsPage } from './rollouts.js';
import { ExperimentsPage } from './experiments.js';
import { DevicePage, DevicesPage } from './devices.js';
import { BundlesPage } from './bundles.js';
import { TelemetryPage } from './telemetry.js';

const PAGES = [
  ['fleet', 'Fleet'],
  ['rollouts', 'Rollouts'],
  ['experiments', 'Experiments'],
  ['devices', 'Devices'],
  ['bundles', 'Bundles'],
  ['telemetry', 'Telemetry'],
];

function useRoute() {
  const read = () =>
    (location.hash.replace(/^#\/?/, '') || 'fleet').split('/').map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function SignIn({ onSignedIn }) {
  const [token, setToken] = useState('');
  // The form is rendered after the page loaded, so the autofocus attribute would not apply.
  const input = useRef(null);
  useLayoutEffect(() => input.current?.focus(), []);
  const [error, setError] = useState(undefined);
  const submit = async (e) => {
    e.preventDefault();
    try {
      const s = await api.session.signIn(token.trim());
      onSignedIn(s);
    } catch (err) {
      setError(err);
    }
  };
  return html`<main class="signin">
    <h1>bmfleet</h1>
    <form onSubmit=${submit}>
      <label for="token">Operator or read-only token</label>
      <input
        id="token"
        type="password"
        autocomplete="current-password"
        ref=${input}
        value=${token}
        onInput=${(e) => setToken(e.currentTarget.value)}
        required
      />
      <button type="submit">Sign in</button>
      <${ErrorNote} error=${error} />
    </form>
    <p class="hint">
      The controller prints the operator token on its first start (DATA_DIR/operator-token).
    </p>
  </main>`;
}

function Page({ route, role }) {
  const [name, arg] = route;
  switch (name) {
    case 'rollouts':
      return html`<${RolloutsPage} role=${role} />`;
    case 'experiments':
      return html`<${ExperimentsPage} role=${role} selected=${arg} />`;
    case 'devices':
      return arg ? html`<${DevicePage} id=${arg} />` : html`<${DevicesPage} />`;
    case 'bundles':
      return html`<${BundlesPage} selected=${arg} />`;
    case 'telemetry':
      return html`<${TelemetryPage} />`;
    default:
      return html`<${FleetPage} />`;
  }
}

/** The skip link moves focus to the page without changing the hash route. */
function skipToMain(e) {
  e.preventDefault();
  document.getElementById('main')?.focus();
}

function App() {
  const [session, setSession] = useState(undefined);
  const [checked, setChecked] = useState(false);
  const route = useRoute();
  const live = useLiveStatus();
  useEffect(() => {
    api.session
      .get()
      .then((s) => signedIn(s))
      .catch(() => undefined)
      .finally(() => setChecked(true));
  }, []);
  const signedIn = (s) => {
    setCsrf(s.csrf);
    setSession(s);
    startLive();
    const next = new URLSearchParams(location.search).get('next');
    if (next && next.startsWith('/') && !next.startsWith('//')) location.assign(next);
  };
  const signOut = async () => {
    await api.session.signOut().catch(() => undefined);
    stopLive();
    setSession(undefined);
  };
  if (!checked) return html`<p>Loading…</p>`;
  if (!session) return html`<${SignIn} onSignedIn=${signedIn} />`;
  const current = route[0];
  return html`<a class="skip" href="#main" onClick=${skipToMain}>Skip to the page</a>
    <header>
      <a class="brand" href="#/fleet">bmfleet</a>
      <nav aria-label="Pages">
        ${PAGES.map(
          ([id, label]) =>
            html`<a href=${`#/${id}`} aria-current=${current === id ? 'page' : undefined}
              >${label}</a
            >`,
        )}
      </nav>
      <span class="who">
        <span class=${live ? 'live on' : 'live'} role="status"
          >${live ? 'live' : 'reconnecting'}</span
        >
        <span class="role" data-role=${session.role}
          >${session.role === 'operator' ? 'operator' : 'read-only'}</span
        >
        <button onClick=${signOut}>Sign out</button>
      </span>
    </header>
    <main id="main" tabindex="-1"><${Page} route=${route} role=${session.role} /></main>`;
}

render(html`<${App} />`, document.getElementById('app'));
