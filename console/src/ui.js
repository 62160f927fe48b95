// @ts-check
// Small shared pieces: the API error box, a modal dialog, badges, key/value tables.
import { html, useEffect, useRef } from './html.js';
import { explain } from './api.js';

/**
 * An API error with Graph's code and message (and what it means, when the code says).
 * @param {{error: any, tier?: string}} props
 */
export function ErrorBox({ error, tier }) {
  if (!error) return null;
  const meaning = error.code ? explain(error, tier) : null;
  return html`<div class="error" role="alert">
    <div class="error-title">${meaning || 'The request was refused.'}</div>
    <div class="error-code"><span class="label">Code</span> <code>${error.code || 'Error'}</code>
      ${error.status ? html` <span class="muted">HTTP ${error.status}</span>` : null}</div>
    <div class="error-message">${error.message}</div>
    ${error.requestId ? html`<div class="muted small">request-id ${error.requestId}</div>` : null}
  </div>`;
}

/**
 * A modal dialog (the platform's <dialog>, so focus and Escape behave).
 * @param {{title: string, onClose: () => void, children: any, wide?: boolean}} props
 */
export function Dialog({ title, onClose, children, wide }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d && d.open && d.close();
  }, []);
  return html`<dialog ref=${ref} class=${wide ? 'dialog wide' : 'dialog'} aria-label=${title}
      onClose=${onClose} onCancel=${(e) => { e.preventDefault(); onClose(); }}>
    <div class="dialog-head"><h2>${title}</h2>
      <button class="icon" type="button" aria-label="Close" onClick=${onClose}>×</button></div>
    <div class="dialog-body">${children}</div>
  </dialog>`;
}

const BADGES = {
  Success: 'ok', Failure: 'bad', Yes: 'warn', No: 'quiet', High: 'bad', Medium: 'warn', Low: 'info',
  None: 'quiet', 'Not applied': 'quiet', Interrupted: 'warn',
};

/** A value shown as a coloured badge (statuses, risk). */
export function Badge({ value }) {
  if (!value) return null;
  return html`<span class=${`badge ${BADGES[value] || 'quiet'}`}>${value}</span>`;
}

/**
 * Label/value rows.
 * @param {{rows: [string, any][]}} props
 */
export function Fields({ rows }) {
  return html`<dl class="fields">
    ${rows.map(([k, v]) => html`<div class="field"><dt>${k}</dt><dd>${v === '' || v == null ? '—' : v}</dd></div>`)}
  </dl>`;
}

/** Copies `text`: the clipboard API, else a selected text field and the copy command. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

/** Saves `blob` as `name` through a temporary object URL. */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
