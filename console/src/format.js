// @ts-check
// Formatting values for display, and building OData literals and query strings. Everything here
// returns plain strings: the views put them into the page as text.

// One formatter each: building an Intl formatter per call costs more than rendering the row.
const DATE_TIME = new Intl.DateTimeFormat('en-GB', {
  year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const DAY = new Intl.DateTimeFormat('en-GB', { month: 'short', day: 'numeric', timeZone: 'UTC' });
const NUMBER = new Intl.NumberFormat('en-US');

/** @param {string | null | undefined} iso */
export function dateTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return DATE_TIME.format(d);
}

/** @param {string} iso */
export function day(iso) {
  return DAY.format(new Date(iso));
}

/** @param {number | null | undefined} n */
export function number(n) {
  return n == null ? '' : NUMBER.format(Number(n));
}

/** A camelCase enum member as words: `notApplied` → `Not applied`. */
export function words(value) {
  if (value == null || value === '') return '';
  const s = String(value).replace(/([a-z0-9])([A-Z])/g, '$1 $2');
  return s.charAt(0).toUpperCase() + s.slice(1).toLowerCase();
}

/** A value of any type as one line of text. */
export function text(value) {
  if (value == null) return '';
  if (typeof value === 'boolean') return value ? 'Yes' : 'No';
  if (Array.isArray(value)) return value.map(text).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** `a/b/c` of an object. */
export function at(obj, path) {
  return path.split('/').reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

/** An OData string literal: quotes doubled. */
export function lit(s) {
  return `'${String(s).replace(/'/g, "''")}'`;
}

/** An OData DateTimeOffset literal (UTC, as the API writes them). */
export function isoLit(date) {
  return new Date(date).toISOString();
}

/**
 * A query string from ordered pairs, written as the API's own links are: `$` kept, spaces as %20.
 * @param {[string, string][]} pairs
 */
export function queryString(pairs) {
  return pairs
    .map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%24/g, '$').replace(/%2C/g, ',').replace(/%2F/g, '/')
      .replace(/%3A/g, ':').replace(/%28/g, '(').replace(/%29/g, ')').replace(/%27/g, "'")}`)
    .join('&');
}

/** A path and query of this origin from an absolute or relative URL (for nextLinks). */
export function localPath(url) {
  const u = new URL(url, location.origin);
  return u.pathname + u.search;
}

/** `YYYY-MM-DDTHH:mm` in local time, for a datetime-local input. */
export function localInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The instant of a datetime-local input's value, as ISO text (null when empty or invalid). */
export function fromLocalInput(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
