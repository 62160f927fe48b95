// @ts-check
// Talking to idtrail's public API: the bearer token (kept in sessionStorage only: never in a URL,
// a cookie or localStorage), Graph's error envelope turned into an ApiError, and 429 answers
// waited out for their Retry-After before the request is sent again.

const TOKEN_KEY = 'idtrail.token';

/** @returns {string | null} */
export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** @param {string | null} token */
export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** An error answer of the API, with Graph's code and message. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {string | null} requestId
   */
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

/** Listeners told when a request waits for a Retry-After (the shell shows a notice). */
const waitListeners = new Set();
/** @param {(seconds: number | null) => void} fn */
export function onRateLimitWait(fn) {
  waitListeners.add(fn);
  return () => waitListeners.delete(fn);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Fetches `url` (a path of this origin) with the token. Retries a 429 after its Retry-After (at
 * most 5 times); any other error answer becomes an ApiError.
 * @param {string} url
 * @param {RequestInit & {accept?: string}} [init]
 * @returns {Promise<Response>}
 */
export async function apiFetch(url, init = {}) {
  const headers = new Headers(init.headers || {});
  const token = getToken();
  if (token) headers.set('Authorization', `Bearer ${token}`);
  headers.set('Accept', init.accept || 'application/json');
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, { ...init, headers, credentials: 'omit', cache: 'no-store' });
    if (res.status === 429 && attempt < 5) {
      const seconds = Math.min(Math.max(Number(res.headers.get('Retry-After')) || 1, 1), 120);
      waitListeners.forEach((fn) => fn(seconds));
      await sleep(seconds * 1000);
      waitListeners.forEach((fn) => fn(null));
      continue;
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }
}

/** @param {Response} res */
async function errorOf(res) {
  const requestId = res.headers.get('request-id');
  let code = `HTTP ${res.status}`;
  let message = res.statusText || 'The request failed.';
  try {
    const body = await res.json();
    if (body && body.error) {
      code = String(body.error.code || code);
      message = String(body.error.message || message);
    }
  } catch {
    // Not Graph's envelope: keep the status line.
  }
  return new ApiError(res.status, code, message, requestId);
}

/**
 * GET `url` as JSON.
 * @param {string} url
 */
export async function getJson(url) {
  const res = await apiFetch(url);
  return res.json();
}

/**
 * The token's claims (read for display only; the API verifies the token).
 * @param {string} token
 * @returns {Record<string, any> | null}
 */
export function claimsOf(token) {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** Directory role template ids (`wids`) idtrail knows, by name. */
const ROLE_NAMES = {
  '62e90394-69f5-4237-9190-012177145e10': 'Global Administrator',
  'f2ef992c-3afb-46b9-b7cf-a126ee74c451': 'Global Reader',
  '194ae4cb-b126-40b2-bd5b-6091b380977d': 'Security Administrator',
  '5f2222b1-57c3-48ba-8ad5-d4759f1fde6f': 'Security Operator',
  '5d6b6bb7-de71-4623-b4af-96380a352509': 'Security Reader',
  '4a5d8f65-41da-4de4-8968-e035b65339cf': 'Reports Reader',
  'b1be1c3e-b65d-4f19-8427-f6fa0d97feb9': 'Conditional Access Administrator',
  '17315797-102d-40b4-93e0-432062caca18': 'Compliance Administrator',
};

/**
 * Who the token says the caller is: name, roles (directory roles, app roles), tenant id.
 * @param {Record<string, any> | null} claims
 */
export function identityOf(claims) {
  if (!claims) return { name: 'unknown', roles: [], tenantId: null, app: false };
  const app = claims.idtyp === 'app' || (!claims.upn && !claims.preferred_username && !claims.scp);
  const roles = [
    ...(claims.wids || []).map((w) => ROLE_NAMES[String(w).toLowerCase()] || w),
    ...(claims.roles || []),
  ];
  return {
    name: claims.upn || claims.preferred_username || claims.name || claims.azp || claims.oid || 'unknown',
    roles: [...new Set(roles)],
    tenantId: claims.tid || null,
    app,
    expires: claims.exp ? new Date(claims.exp * 1000) : null,
  };
}

/**
 * What an API refusal means for the person reading it, from Graph's error code.
 * @param {ApiError} e
 * @param {string} [tier]
 */
export function explain(e, tier) {
  switch (e.code) {
    case 'Authentication_RequestFromNonPremiumTenantOrB2CTenant':
      return `Needs a higher license: this tenant is on ${tier || 'a lower tier'} (the report needs P1, risky users P2).`;
    case 'Authentication_RequestFromUnsupportedUserRole':
      return 'Your role does not allow this: without an administrator role you can read your own sign-ins only.';
    case 'Authentication_MSGraphPermissionMissing':
      return 'The token lacks the permission (scope or application role) this needs.';
    case 'InvalidAuthenticationToken':
      return 'The token was not accepted (expired or signed for another service): sign in again.';
    default:
      return e.status >= 500 ? 'idtrail could not answer; try again.' : null;
  }
}
