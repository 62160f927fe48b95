// @ts-check
// Signing in: paste a bearer token, or (development mode only, when `GET /idtrail/dev/tokens`
// answers) pick one of the demo tenants' tokens. The token goes to sessionStorage and nowhere else.
import { html, useState, useEffect } from './html.js';
import { claimsOf } from './api.js';

/**
 * @param {{onToken: (token: string) => void, message?: string | null}} props
 */
export function SignIn({ onToken, message }) {
  const [token, setTokenText] = useState('');
  const [problem, setProblem] = useState(null);
  const [demo, setDemo] = useState(null);

  useEffect(() => {
    // Not an API call with a token: the list of development tokens, absent (404) outside development mode.
    fetch('/idtrail/dev/tokens', { credentials: 'omit', cache: 'no-store' })
      .then((r) => (r.ok ? r.json() : null))
      .then((body) => setDemo(body && Array.isArray(body.tenants) ? body.tenants : null), () => setDemo(null));
  }, []);

  const submit = (e) => {
    e.preventDefault();
    const t = token.trim().replace(/^Bearer\s+/i, '');
    if (!claimsOf(t)) {
      setProblem('This is not a JSON Web Token (three base64url parts separated by dots).');
      return;
    }
    onToken(t);
  };

  return html`<main class="signin">
    <div class="signin-card">
      <div class="brand big"><span class="logo" aria-hidden="true"></span> idtrail</div>
      <h1>Sign in to the console</h1>
      <p class="muted">The console reads idtrail's API with your bearer token, as any Graph client would. The token is
        kept in this tab's session storage only, and forgotten when you sign out or close the tab.</p>
      ${message ? html`<div class="error" role="alert">${message}</div>` : null}
      <form onSubmit=${submit}>
        <label for="token">Bearer token</label>
        <textarea id="token" rows="4" class="mono" spellcheck="false" autocomplete="off" placeholder="eyJ0eXAiOiJKV1Qi…"
          value=${token} onInput=${(e) => { setTokenText(e.target.value); setProblem(null); }}></textarea>
        ${problem ? html`<div class="field-error" role="alert">${problem}</div>` : null}
        <button type="submit" class="primary" disabled=${!token.trim()}>Sign in</button>
      </form>
      ${demo && demo.length ? html`<section class="demo" aria-labelledby="demo-title">
        <h2 id="demo-title">Development mode: demo tokens</h2>
        <p class="muted small">This idtrail runs with its generated development secret and demo data, so it offers
          its demo tenants' tokens. A production idtrail does not.</p>
        ${demo.map((t) => html`<div class="demo-tenant" role="group" aria-labelledby=${`demo-${t.id}`}>
          <div class="demo-name"><span id=${`demo-${t.id}`}>${t.displayName}</span> <span class="tier">${String(t.license).toUpperCase()}</span></div>
          <div class="demo-users">${t.users.map((u) => html`<button type="button" class="demo-user" onClick=${() => onToken(u.token)}>
            <span class="demo-label">${u.label}</span> <span class="demo-upn">${u.userPrincipalName}</span></button>`)}</div>
        </div>`)}
      </section>` : null}
    </div>
  </main>`;
}
