// @ts-check
// The console's shell: sign-in, who you are (the token's claims and `GET /idtrail/tenant`), the
// navigation between Overview and the four lists (a hash route per page), and the rate-limit notice.
import { html, render, useState, useEffect } from './html.js';
import { getToken, setToken, claimsOf, identityOf, getJson, onRateLimitWait, ApiError } from './api.js';
import { SETS } from './sets.js';
import { ListPage, initialState, setListState } from './list.js';
import { Overview } from './overview.js';
import { SignIn } from './signin.js';
import { ErrorBox } from './ui.js';
import { dateTime } from './format.js';

const PAGES = [
  { route: 'overview', label: 'Overview', set: null },
  ...Object.values(SETS).map((s) => ({ route: s.route, label: s.title, set: s })),
];
const DEFAULT_ROUTE = 'sign-ins';

function currentRoute() {
  const r = location.hash.replace(/^#\/?/, '');
  return PAGES.some((p) => p.route === r) ? r : DEFAULT_ROUTE;
}

function App() {
  const [token, setTokenState] = useState(getToken());
  const [message, setMessage] = useState(null);
  const signIn = (t) => {
    setToken(t);
    setMessage(null);
    setTokenState(t);
  };
  const signOut = (why) => {
    setToken(null);
    setTokenState(null);
    setMessage(why || null);
    history.replaceState(null, '', location.pathname);
  };
  if (!token) return html`<${SignIn} onToken=${signIn} message=${message} />`;
  return html`<${Shell} key=${token} token=${token} signOut=${signOut} />`;
}

function Shell({ token, signOut }) {
  const [route, setRoute] = useState(currentRoute());
  const [tenant, setTenant] = useState(null);
  const [scope, setScope] = useState(null);
  const [error, setError] = useState(null);
  const [waiting, setWaiting] = useState(null);
  const [whoOpen, setWhoOpen] = useState(false);
  const who = identityOf(claimsOf(token));

  useEffect(() => {
    const onHash = () => setRoute(currentRoute());
    addEventListener('hashchange', onHash);
    const off = onRateLimitWait(setWaiting);
    return () => { removeEventListener('hashchange', onHash); off(); };
  }, []);

  useEffect(() => {
    getJson('/idtrail/tenant').then(setTenant, (e) => {
      if (e instanceof ApiError && e.status === 401) signOut(`The token was refused: ${e.code}: ${e.message}`);
      else setError(e);
    });
    // What this caller may read of the sign-ins, as the API says it: the tenant-wide report
    // answers those who may read every sign-in, and refuses the others with the reason.
    getJson('/idtrail/reports/signInActivity?period=P1D&interval=P1D').then(
      () => setScope({ kind: 'tenant', text: 'All sign-ins of the tenant' }),
      (e) => setScope(e.code === 'Authentication_RequestFromUnsupportedUserRole'
        ? { kind: 'own', text: 'Your own sign-ins (no administrator role)' }
        : e.code === 'Authentication_RequestFromNonPremiumTenantOrB2CTenant'
          ? { kind: 'license', text: 'Tenant-wide sign-ins need P1' }
          : { kind: 'unknown', text: `${e.code}` }),
    );
  }, [token]);

  useEffect(() => {
    const page = PAGES.find((p) => p.route === route);
    document.title = `${page ? page.label : 'idtrail'} · idtrail console`;
  }, [route]);

  const tier = tenant ? String(tenant.license).toUpperCase() : undefined;
  const ctx = {
    tier,
    scopeNote: scope && scope.kind === 'own'
      ? 'You see your own sign-ins only: the API answers a user without an administrator role with their sign-ins.'
      : null,
  };
  const openDrillDown = (filter, label) => {
    const set = SETS.signIns;
    setListState(set, { ...initialState(set), date: { range: 'all', from: null, to: null, anchor: Date.now() },
      extra: [{ label, expr: filter }] });
    location.hash = `#/${set.route}`;
    setRoute(set.route);
  };
  const page = PAGES.find((p) => p.route === route);

  return html`<div class="shell">
    <a class="skip" href="#main">Skip to content</a>
    <header class="topbar">
      <div class="brand"><span class="logo" aria-hidden="true"></span> idtrail <span class="brand-sub">Identity activity</span></div>
      <div class="tenant-name">${tenant ? tenant.displayName || tenant.id : ''}
        ${tier ? html` <span class="tier" title="License tier">${tier}</span>` : null}</div>
      <button type="button" class="who" aria-expanded=${whoOpen ? 'true' : 'false'} aria-controls="who-panel"
        onClick=${() => setWhoOpen(!whoOpen)}>
        <span class="who-name">${who.name}</span>
        <span class="who-roles">${who.roles.length ? who.roles.join(', ') : 'No directory role'}</span>
      </button>
      <button type="button" class="signout" onClick=${() => signOut(null)}>Sign out</button>
    </header>
    ${whoOpen ? html`<section id="who-panel" class="who-panel" aria-label="Who you are">
      <dl class="fields">
        <div class="field"><dt>User</dt><dd>${who.name}</dd></div>
        <div class="field"><dt>Roles</dt><dd>${who.roles.length ? who.roles.join(', ') : 'None'}</dd></div>
        <div class="field"><dt>Tenant</dt><dd>${tenant ? `${tenant.displayName || ''} (${tenant.id})` : who.tenantId}</dd></div>
        <div class="field"><dt>License tier</dt><dd>${tier || '…'}</dd></div>
        <div class="field"><dt>Sign-ins you can read</dt><dd class="scope">${scope ? scope.text : '…'}</dd></div>
        ${tenant ? html`<div class="field"><dt>Data sets</dt><dd>${Object.entries(tenant.features || {})
          .filter(([k]) => ['directoryAudits', 'riskDetections', 'riskyUsers'].includes(k))
          .map(([k, v]) => `${k}: ${v ? 'included' : 'not in this tier'}`).join(' · ')}</dd></div>` : null}
        <div class="field"><dt>Token expires</dt><dd>${who.expires ? dateTime(who.expires.toISOString()) : '—'}</dd></div>
      </dl>
    </section>` : null}
    ${waiting ? html`<div class="ratelimit" role="status">Rate limited by idtrail: retrying in ${waiting} s (Retry-After).</div>` : null}
    <div class="body">
      <nav class="nav" aria-label="Pages">
        <div class="nav-group">Monitoring</div>
        ${PAGES.map((p) => html`<a href=${`#/${p.route}`} class=${p.route === route ? 'active' : ''}
          aria-current=${p.route === route ? 'page' : null}>${p.label}</a>`)}
        <div class="nav-foot"><a href="/docs">API reference</a></div>
      </nav>
      <main id="main" class="main" tabindex="-1">
        <${ErrorBox} error=${error} tier=${tier} />
        ${page.set ? html`<${ListPage} key=${page.set.key} set=${page.set} ctx=${ctx} />`
          : html`<${Overview} ctx=${ctx} openDrillDown=${openDrillDown} />`}
      </main>
    </div>
  </div>`;
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
