// @ts-check
// One list view for every data set: toolbar (Columns, Download, Script, Refresh), filters that
// become `$filter`, sortable headers that become `$orderby`, the request's own URL, the rows,
// "Load more" through `@odata.nextLink`, and the detail pane of the chosen row.
import { html, useState, useEffect, useRef, useLayoutEffect } from './html.js';
import { apiFetch, getJson } from './api.js';
import { number, isoLit, queryString, localPath, localInput, fromLocalInput } from './format.js';
import { DATE_CHOICES } from './sets.js';
import { ErrorBox, Dialog, Badge, copyText, saveBlob } from './ui.js';
import { DetailPane } from './detail.js';

const PAGE_SIZES = [50, 100, 500, 1000];
const DAY = 24 * 3600 * 1000;

/** Each list's query, kept while the user moves between pages. */
const pageStates = {};

/** @param {any} set */
export function initialState(set) {
  return {
    columns: [...set.defaultColumns],
    filters: {},
    date: { range: set.defaultDate, from: null, to: null, anchor: Date.now() },
    extra: [],
    sort: null,
    top: 50,
  };
}

/** Replaces a list's query (the Overview's drill-down opens the sign-ins this way). */
export function setListState(set, state) {
  pageStates[set.key] = state;
}

/** The `$filter` conditions of a query. */
function conditions(set, state) {
  const out = [];
  const defs = [...set.filters, ...set.columns.filter((c) => c.filter && state.columns.includes(c.key)).map((c) => c.filter)];
  for (const def of defs) {
    const v = state.filters[def.key];
    if (!v || !String(v).trim()) continue;
    if (def.type === 'text') out.push(def.build(String(v).trim()));
    else {
      const option = def.options.find((o) => o.value === v);
      if (option && option.expr) out.push(option.expr);
    }
  }
  const { range, from, to, anchor } = state.date;
  const field = set.timeField;
  const since = { '24h': DAY, '7d': 7 * DAY, '1m': 30 * DAY }[range];
  if (since) out.push(`${field} ge ${isoLit(anchor - since)}`);
  if (range === 'custom') {
    if (from) out.push(`${field} ge ${isoLit(from)}`);
    if (to) out.push(`${field} lt ${isoLit(to)}`);
  }
  for (const e of state.extra) out.push(e.expr);
  return out;
}

/**
 * The query options of a list state, in the order the console sends them.
 * @returns {[string, string][]}
 */
export function queryPairs(set, state, { page = true } = {}) {
  const pairs = [];
  const cond = conditions(set, state);
  if (cond.length) pairs.push(['$filter', cond.length === 1 ? cond[0] : cond.map(wrap).join(' and ')]);
  const select = new Set(['id']);
  for (const key of state.columns) {
    const col = set.columns.find((c) => c.key === key);
    if (col) col.select.forEach((p) => select.add(p));
  }
  pairs.push(['$select', [...select].join(',')]);
  if (state.sort) {
    const col = set.columns.find((c) => c.key === state.sort.key);
    if (col && col.orderBy) pairs.push(['$orderby', `${col.orderBy} ${state.sort.dir}`]);
  }
  if (page) {
    pairs.push(['$top', String(state.top)]);
    pairs.push(['$count', 'true']);
  }
  return pairs;
}

/** A condition with `or` at its top is parenthesised when joined with `and`. */
const wrap = (c) => (/ or /.test(c) && !(c.startsWith('(') && c.endsWith(')')) ? `(${c})` : c);

/** @param {any} set @param {any} state */
export function requestPath(set, state) {
  return `${set.path}?${queryString(queryPairs(set, state))}`;
}

/**
 * @param {{set: any, ctx: any}} props
 */
export function ListPage({ set, ctx }) {
  const [state, setStateRaw] = useState(() => pageStates[set.key] || initialState(set));
  const setState = (s) => {
    pageStates[set.key] = s;
    setStateRaw(s);
  };
  const [draft, setDraft] = useState(() => ({ filters: { ...state.filters }, date: { ...state.date } }));
  const [data, setData] = useState({ rows: [], next: null, count: null, loading: true, error: null });
  const [selected, setSelected] = useState(null);
  const [dialog, setDialog] = useState(null);
  const [notice, setNotice] = useState(null);
  const [reload, setReload] = useState(0);
  const renderStart = useRef(0);
  const tableRef = useRef(null);

  useEffect(() => {
    setDraft({ filters: { ...state.filters }, date: { ...state.date } });
  }, [state]);

  const path = requestPath(set, state);
  useEffect(() => {
    let live = true;
    setData((d) => ({ ...d, loading: true, error: null }));
    const started = performance.now();
    getJson(path).then(
      (body) => {
        if (!live) return;
        renderStart.current = performance.now();
        setData({ rows: body.value || [], next: body['@odata.nextLink'] || null, count: body['@odata.count'] ?? null,
          loading: false, error: null, path, fetchMs: renderStart.current - started });
      },
      (error) => live && setData({ rows: [], next: null, count: null, loading: false, error, path }),
    );
    return () => { live = false; };
  }, [path, reload]);

  // How long the rows took to render (read by the browser tests, shown nowhere).
  useLayoutEffect(() => {
    if (!data.loading && tableRef.current && renderStart.current) {
      tableRef.current.dataset.renderMs = String(Math.round(performance.now() - renderStart.current));
      tableRef.current.dataset.rows = String(data.rows.length);
      renderStart.current = 0;
    }
  }, [data]);

  const loadMore = async () => {
    if (!data.next) return;
    setData((d) => ({ ...d, loading: true }));
    try {
      const body = await getJson(localPath(data.next));
      renderStart.current = performance.now();
      setData((d) => ({ ...d, rows: [...d.rows, ...(body.value || [])], next: body['@odata.nextLink'] || null,
        loading: false }));
    } catch (error) {
      setData((d) => ({ ...d, loading: false, error }));
    }
  };

  const apply = (e) => {
    if (e) e.preventDefault();
    setState({ ...state, filters: { ...draft.filters }, date: { ...draft.date, anchor: Date.now() } });
  };
  const reset = () => setState({ ...initialState(set), columns: state.columns, top: state.top });
  const sortBy = (col) => {
    if (!col.orderBy) return;
    const dir = state.sort && state.sort.key === col.key && state.sort.dir === 'desc' ? 'asc' : 'desc';
    setState({ ...state, sort: { key: col.key, dir } });
  };
  const columns = state.columns.map((k) => set.columns.find((c) => c.key === k)).filter(Boolean);
  const columnFilters = columns.filter((c) => c.filter).map((c) => c.filter);
  const url = location.origin + path;

  const download = async (format) => {
    const exportPath = `${set.path}?${queryString([...queryPairs(set, state, { page: false }), ['$format', format]])}`;
    setNotice({ text: `Preparing the ${format.toUpperCase()} download…` });
    try {
      const res = await apiFetch(exportPath, { accept: format === 'csv' ? 'text/csv' : 'application/json' });
      const blob = await res.blob();
      const disposition = res.headers.get('Content-Disposition') || '';
      const name = (/filename="([^"]+)"/.exec(disposition) || [])[1] || `${set.title}.${format}`;
      saveBlob(blob, name);
      setNotice({ text: `Downloaded ${name} (${number(blob.size)} bytes).` });
    } catch (error) {
      setNotice({ error });
    }
  };
  const script = async (shell) => {
    const request = `${set.path}?${queryString(queryPairs(set, state, { page: false }))}`;
    try {
      const res = await apiFetch(`/idtrail/script?${queryString([['shell', shell], ['request', request]])}`,
        { accept: 'text/plain' });
      const body = await res.text();
      setDialog({ kind: 'script', shell, body, name: shell === 'bash' ? 'download.sh' : 'download.py' });
    } catch (error) {
      setNotice({ error });
    }
  };

  return html`<section class="page" aria-labelledby="page-title">
    <header class="page-head">
      <h1 id="page-title">${set.title}</h1>
      <div class="toolbar" role="toolbar" aria-label="${set.title} actions">
        <button type="button" onClick=${() => setDialog({ kind: 'columns' })}>Columns</button>
        <${Menu} label="Download" items=${[['Download CSV', () => download('csv')], ['Download JSON', () => download('json')]]} />
        <${Menu} label="Script" items=${[['Bash script', () => script('bash')], ['Python script', () => script('python')]]} />
        <button type="button" onClick=${() => setReload(reload + 1)}>Refresh</button>
      </div>
    </header>
    ${ctx.scopeNote && set.key === 'signIns' ? html`<p class="note">${ctx.scopeNote}</p>` : null}
    <form class="filters" onSubmit=${apply} aria-label="Filters">
      ${[...set.filters, ...columnFilters].map((def) => html`<${FilterField} def=${def} value=${draft.filters[def.key] || ''}
        onChange=${(v) => setDraft({ ...draft, filters: { ...draft.filters, [def.key]: v } })} />`)}
      <${DateFilter} date=${draft.date} onChange=${(date) => setDraft({ ...draft, date })} />
      <div class="filter-actions">
        <button type="submit" class="primary">Apply</button>
        <button type="button" onClick=${reset}>Reset</button>
      </div>
    </form>
    ${state.extra.length ? html`<div class="chips">${state.extra.map((e, i) => html`<span class="chip">${e.label}
      <button type="button" aria-label=${`Remove filter ${e.label}`}
        onClick=${() => setState({ ...state, extra: state.extra.filter((_, j) => j !== i) })}>×</button></span>`)}</div>` : null}
    <div class="request">
      <label for="request-url">Request</label>
      <input id="request-url" class="mono" readonly value=${url} onFocus=${(e) => e.target.select()} />
      <button type="button" onClick=${async () => setNotice({ text: (await copyText(url)) ? 'Request URL copied.' : 'Copy failed: select the URL and copy it.' })}>Copy</button>
    </div>
    ${notice ? html`<div class="notice" role="status">${notice.error ? html`<${ErrorBox} error=${notice.error} tier=${ctx.tier} />` : notice.text}</div>` : null}
    <${ErrorBox} error=${data.error} tier=${ctx.tier} />
    <div class="summary" aria-live="polite">
      ${data.loading ? 'Loading…' : data.error ? '' : html`<span class="count">${data.count != null
        ? `${number(data.count)} ${set.noun}` : `${number(data.rows.length)} ${set.noun} shown`}</span>
        ${data.count != null && data.rows.length < data.count ? html` · ${number(data.rows.length)} shown` : null}`}
      <label class="page-size">Rows per page
        <select value=${String(state.top)} onChange=${(e) => setState({ ...state, top: Number(e.target.value) })}>
          ${PAGE_SIZES.map((n) => html`<option value=${String(n)}>${n}</option>`)}
        </select></label>
    </div>
    <div class="table-wrap">
      <table class="grid" ref=${tableRef} aria-label=${set.title} aria-busy=${data.loading ? 'true' : 'false'}
          data-loaded=${data.loading ? '' : data.path}>
        <thead><tr>${columns.map((c) => html`<th scope="col"
            aria-sort=${state.sort && state.sort.key === c.key ? (state.sort.dir === 'asc' ? 'ascending' : 'descending') : null}>
          ${c.orderBy ? html`<button type="button" class="sort" onClick=${() => sortBy(c)}>${c.label}<span class="arrow" aria-hidden="true">${
            state.sort && state.sort.key === c.key ? (state.sort.dir === 'asc' ? ' ▲' : ' ▼') : ''}</span></button>` : c.label}
        </th>`)}</tr></thead>
        <tbody>${data.rows.map((r) => html`<${Row} key=${r.id} row=${r} columns=${columns}
          selected=${selected === r.id} onOpen=${() => setSelected(r.id)} />`)}</tbody>
      </table>
      ${!data.loading && !data.error && data.rows.length === 0 ? html`<p class="empty">No ${set.noun} match these filters.</p>` : null}
    </div>
    ${data.next ? html`<div class="more"><button type="button" onClick=${loadMore} disabled=${data.loading}>Load more</button></div>` : null}
    ${selected ? html`<${DetailPane} set=${set} id=${selected} ctx=${ctx} onClose=${() => setSelected(null)}
      onChanged=${() => setReload((n) => n + 1)} />` : null}
    ${dialog && dialog.kind === 'columns' ? html`<${ColumnsDialog} set=${set} chosen=${state.columns}
      onClose=${() => setDialog(null)} onApply=${(cols) => { setDialog(null); setState({ ...state, columns: cols }); }} />` : null}
    ${dialog && dialog.kind === 'script' ? html`<${ScriptDialog} dialog=${dialog} onClose=${() => setDialog(null)} />` : null}
  </section>`;
}

/** A toolbar menu (a <details>, so it opens without script state); choosing an item closes it. */
function Menu({ label, items }) {
  const choose = (e, run) => {
    const menu = e.target.closest('details');
    if (menu) menu.open = false;
    run();
  };
  return html`<details class="menu">
    <summary>${label}</summary>
    <div class="menu-items">${items.map(([text, run]) => html`<button type="button" onClick=${(e) => choose(e, run)}>${text}</button>`)}</div>
  </details>`;
}

function Row({ row, columns, selected, onOpen }) {
  return html`<tr class=${selected ? 'selected' : ''} data-id=${row.id} onClick=${onOpen}>
    ${columns.map((c, i) => {
      const value = c.value(row);
      const sub = c.sub ? c.sub(row) : '';
      const content = c.kind ? html`<${Badge} value=${value} />` : value;
      return html`<td>${i === 0 ? html`<button type="button" class="link" onClick=${(e) => { e.stopPropagation(); onOpen(); }}>${value || '(open)'}</button>` : content}
        ${sub && sub !== value ? html`<div class="sub">${sub}</div>` : null}</td>`;
    })}
  </tr>`;
}

function FilterField({ def, value, onChange }) {
  const id = `filter-${def.key}`;
  return html`<div class="filter"><label for=${id}>${def.label}</label>
    ${def.type === 'text'
      ? html`<input id=${id} type="search" value=${value} placeholder=${def.placeholder || ''}
          onInput=${(e) => onChange(e.target.value)} />`
      : html`<select id=${id} value=${value} onChange=${(e) => onChange(e.target.value)}>
          ${def.options.map((o) => html`<option value=${o.value}>${o.label}</option>`)}</select>`}
  </div>`;
}

function DateFilter({ date, onChange }) {
  return html`<div class="filter"><label for="filter-date">Date</label>
    <select id="filter-date" value=${date.range} onChange=${(e) => onChange({ ...date, range: e.target.value })}>
      ${DATE_CHOICES.map((o) => html`<option value=${o.value}>${o.label}</option>`)}</select>
    </div>
    ${date.range === 'custom' ? html`<div class="filter"><label for="filter-from">From</label>
        <input id="filter-from" type="datetime-local" value=${localInput(date.from)}
          onChange=${(e) => onChange({ ...date, from: fromLocalInput(e.target.value) })} /></div>
      <div class="filter"><label for="filter-to">To (before)</label>
        <input id="filter-to" type="datetime-local" value=${localInput(date.to)}
          onChange=${(e) => onChange({ ...date, to: fromLocalInput(e.target.value) })} /></div>` : null}`;
}

function ColumnsDialog({ set, chosen, onClose, onApply }) {
  const [cols, setCols] = useState(chosen);
  const toggle = (key) => setCols(cols.includes(key) ? cols.filter((k) => k !== key) : [...cols, key]);
  // Keep the sets' order, so that columns do not jump around.
  const ordered = () => set.columns.map((c) => c.key).filter((k) => cols.includes(k));
  return html`<${Dialog} title="Columns" onClose=${onClose}>
    <p class="muted">Choose the columns to show. Each column adds its properties to <code>$select</code>;
      a column with a filter adds it to the filters.</p>
    <fieldset class="column-list"><legend class="sr-only">Columns</legend>
      ${set.columns.map((c) => html`<label class="check"><input type="checkbox" checked=${cols.includes(c.key)}
        onChange=${() => toggle(c.key)} /> ${c.label}</label>`)}
    </fieldset>
    <div class="dialog-actions">
      <button type="button" class="primary" disabled=${cols.length === 0} onClick=${() => onApply(ordered())}>OK</button>
      <button type="button" onClick=${() => setCols(set.defaultColumns)}>Default columns</button>
      <button type="button" onClick=${onClose}>Cancel</button>
    </div>
  </${Dialog}>`;
}

function ScriptDialog({ dialog, onClose }) {
  const [copied, setCopied] = useState(false);
  return html`<${Dialog} title=${`${dialog.shell === 'bash' ? 'Bash' : 'Python'} script`} onClose=${onClose} wide>
    <p class="muted">Downloads this list's CSV export with the token in <code>IDTRAIL_TOKEN</code>, waiting out
      rate limits. Run it as <code>IDTRAIL_TOKEN=… ${dialog.shell === 'bash' ? 'bash' : 'python3'} ${dialog.name}</code>.</p>
    <pre class="code" tabindex="0">${dialog.body}</pre>
    <div class="dialog-actions">
      <button type="button" class="primary" onClick=${() => saveBlob(new Blob([dialog.body], { type: 'text/plain' }), dialog.name)}>Save ${dialog.name}</button>
      <button type="button" onClick=${async () => setCopied(await copyText(dialog.body))}>${copied ? 'Copied' : 'Copy'}</button>
      <button type="button" onClick=${onClose}>Close</button>
    </div>
  </${Dialog}>`;
}
