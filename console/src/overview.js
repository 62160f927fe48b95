// @ts-check
// The Overview: the portal's user sign-in and app usage graphs from idtrail's report endpoints
// (`/idtrail/reports/signInActivity`, `.../topApplications`). A bucket (a bar, or its row in the
// table under the chart) opens the sign-ins list filtered by that bucket's drill-down `$filter`.
import { html, useState, useEffect, useRef } from './html.js';
import uPlotModule from '../vendor/uplot/uPlot.esm.js';
import { getJson } from './api.js';
import { day, number, queryString } from './format.js';
import { ErrorBox } from './ui.js';

const PERIODS = [
  { value: 'P7D', label: 'Last 7 days' },
  { value: 'P30D', label: 'Last 30 days' },
];
const INTERVALS = [
  { value: 'P1W', label: 'Weekly' },
  { value: 'P1D', label: 'Daily' },
];
/** uPlot's own types are not vendored: it is used untyped. */
const uPlot = /** @type {any} */ (uPlotModule);
const COLORS = { signIns: '#0f6cbd', failed: '#c50f1f', users: '#0e7a6b', apps: ['#0f6cbd', '#8a3ffc', '#c25e00'] };

/** A bucket's label: its days in UTC (the reports' default time zone). */
function bucketLabel(b, interval) {
  const fmt = (d) => day(d.toISOString());
  const start = new Date(b.start);
  const last = new Date(new Date(b.end).getTime() - 1);
  const label = interval === 'P1D' || fmt(start) === fmt(last) ? fmt(start) : `${fmt(start)} – ${fmt(last)}`;
  return b.partial ? `${label} (partial)` : label;
}

/**
 * @param {{ctx: any, openDrillDown: (filter: string, label: string) => void}} props
 */
export function Overview({ ctx, openDrillDown }) {
  const [period, setPeriod] = useState('P30D');
  const [interval, setBucketInterval] = useState('P1W');
  const [activity, setActivity] = useState(null);
  const [apps, setApps] = useState(null);
  const [error, setError] = useState(null);
  const [focus, setFocus] = useState(null);
  const [focused, setFocused] = useState(null);

  useEffect(() => {
    let live = true;
    setError(null);
    const q = queryString([['period', period], ['interval', interval]]);
    Promise.all([
      getJson(`/idtrail/reports/signInActivity?${q}`),
      getJson(`/idtrail/reports/topApplications?${q}&top=3`),
    ]).then(([a, t]) => {
      if (!live) return;
      setActivity(a);
      setApps(t);
      setFocus((f) => f || (t.applications[0] && t.applications[0].appId) || null);
    }, (e) => live && setError(e));
    return () => { live = false; };
  }, [period, interval]);

  useEffect(() => {
    if (!focus) return undefined;
    let live = true;
    const q = queryString([['period', period], ['interval', interval], ['appId', focus]]);
    getJson(`/idtrail/reports/signInActivity?${q}`).then((r) => live && setFocused(r), (e) => live && setError(e));
    return () => { live = false; };
  }, [focus, period, interval]);

  const drill = (bucket, what) => {
    const filter = new URL(bucket.drillDown, location.origin).searchParams.get('$filter') || '';
    openDrillDown(filter, `${what}: ${bucketLabel(bucket, interval)}`);
  };
  const focusApp = apps && apps.applications.find((a) => a.appId === focus);

  return html`<section class="page" aria-labelledby="page-title">
    <header class="page-head">
      <h1 id="page-title">Overview</h1>
      <div class="toolbar">
        <label class="inline">Period <select value=${period} onChange=${(e) => setPeriod(e.target.value)}>
          ${PERIODS.map((p) => html`<option value=${p.value}>${p.label}</option>`)}</select></label>
        <label class="inline">Interval <select value=${interval} onChange=${(e) => setBucketInterval(e.target.value)}>
          ${INTERVALS.map((p) => html`<option value=${p.value}>${p.label}</option>`)}</select></label>
      </div>
    </header>
    <${ErrorBox} error=${error} tier=${ctx.tier} />
    ${activity && !error ? html`
      <div class="stats">
        ${[['signIns', 'Sign-ins'], ['successful', 'Successful'], ['failed', 'Failed'], ['distinctUsers', 'Users']].map(([k, label]) =>
          html`<div class="stat" data-key=${k}><div class="stat-label">${label}</div><div class="stat-value">${number(activity.totals[k])}</div></div>`)}
      </div>
      <div class="panels">
        <div class="panel">
          <h2>User sign-ins</h2>
          <p class="muted small">${interval === 'P1W' ? 'Per week (weeks start on Monday, UTC)' : 'Per day (UTC)'}; failures in red. Select a bar to see its sign-ins.</p>
          <${Chart} label="Sign-ins per bucket" buckets=${activity.buckets} interval=${interval}
            series=${[{ label: 'Sign-ins', key: 'signIns', color: COLORS.signIns, bars: true },
              { label: 'Failed', key: 'failed', color: COLORS.failed, bars: true }]}
            onPick=${(i) => drill(activity.buckets[i], 'Sign-ins')} />
        </div>
        <div class="panel">
          <h2>Users signing in</h2>
          <p class="muted small">Distinct users per ${interval === 'P1W' ? 'week' : 'day'}.</p>
          <${Chart} label="Distinct users per bucket" buckets=${activity.buckets} interval=${interval}
            series=${[{ label: 'Users', key: 'distinctUsers', color: COLORS.users, bars: true }]}
            onPick=${(i) => drill(activity.buckets[i], 'Sign-ins')} />
        </div>
      </div>
      <${BucketTable} buckets=${activity.buckets} interval=${interval} caption="Sign-ins per bucket"
        onPick=${(b) => drill(b, 'Sign-ins')} />
    ` : null}
    ${apps && !error ? html`
      <div class="panel">
        <h2>Top applications</h2>
        <p class="muted small">The three applications with the most sign-ins in the period; choose one to focus on it.</p>
        <${Chart} label="Sign-ins of the top applications" buckets=${apps.applications[0] ? apps.applications[0].buckets : []}
          interval=${interval}
          series=${apps.applications.map((a, i) => ({ label: a.appDisplayName, values: a.buckets.map((b) => b.signIns), color: COLORS.apps[i] }))}
          onPick=${null} />
        <table class="grid compact apps" aria-label="Top applications">
          <thead><tr><th scope="col">Application</th><th scope="col" class="num">Sign-ins</th><th scope="col" class="num">Successful</th>
            <th scope="col" class="num">Failed</th><th scope="col" class="num">Users</th><th scope="col"><span class="sr-only">Focus</span></th></tr></thead>
          <tbody>${apps.applications.map((a, i) => html`<tr class=${a.appId === focus ? 'selected' : ''}>
            <td><span class="swatch" data-i=${String(i)}></span>${a.appDisplayName}</td><td class="num">${number(a.signIns)}</td>
            <td class="num">${number(a.successful)}</td><td class="num">${number(a.failed)}</td><td class="num">${number(a.distinctUsers)}</td>
            <td><button type="button" aria-pressed=${a.appId === focus ? 'true' : 'false'} onClick=${() => setFocus(a.appId)}>Focus</button></td></tr>`)}</tbody>
        </table>
      </div>
      ${focusApp && focused ? html`<div class="panel focus">
        <h2>Focus: ${focusApp.appDisplayName}</h2>
        <p class="muted small">Sign-ins and distinct users of this application per ${interval === 'P1W' ? 'week' : 'day'}.</p>
        <${Chart} label=${`Sign-ins of ${focusApp.appDisplayName}`} buckets=${focused.buckets} interval=${interval}
          series=${[{ label: 'Sign-ins', key: 'signIns', color: COLORS.signIns, bars: true },
            { label: 'Users', key: 'distinctUsers', color: COLORS.users }]}
          onPick=${(i) => drill(focused.buckets[i], focusApp.appDisplayName)} />
        <${BucketTable} buckets=${focused.buckets} interval=${interval} caption=${`${focusApp.appDisplayName} per bucket`}
          onPick=${(b) => drill(b, focusApp.appDisplayName)} />
      </div>` : null}` : null}
  </section>`;
}

function BucketTable({ buckets, interval, caption, onPick }) {
  return html`<table class="grid compact buckets" aria-label=${caption}>
    <thead><tr><th scope="col">${interval === 'P1W' ? 'Week' : 'Day'}</th><th scope="col" class="num">Sign-ins</th>
      <th scope="col" class="num">Successful</th><th scope="col" class="num">Failed</th><th scope="col" class="num">Users</th></tr></thead>
    <tbody>${buckets.map((b) => html`<tr class="bucket">
      <td>${bucketLabel(b, interval)}</td>
      <td class="num"><button type="button" class="link" aria-label=${`${number(b.signIns)} sign-ins, ${bucketLabel(b, interval)}: open them`}
        onClick=${() => onPick(b)}>${number(b.signIns)}</button></td>
      <td class="num">${number(b.successful)}</td><td class="num">${number(b.failed)}</td><td class="num">${number(b.distinctUsers)}</td>
    </tr>`)}</tbody>
  </table>`;
}

/**
 * A uPlot chart over the buckets (x: bucket index, labelled with its days). Bars for counts;
 * series drawn later paint over earlier ones, so `failed` shows as the red part of a sign-ins bar.
 */
function Chart({ label, buckets, interval, series, onPick }) {
  const box = useRef(null);
  const pick = useRef(onPick);
  pick.current = onPick;
  useEffect(() => {
    const el = box.current;
    if (!el || !buckets.length) return undefined;
    const xs = buckets.map((_, i) => i);
    const data = [xs, ...series.map((s) => s.values || buckets.map((b) => b[s.key]))];
    const labels = buckets.map((b) => bucketLabel(b, interval).replace(' (partial)', '*'));
    const bars = uPlot.paths.bars({ size: [0.6, 64] });
    const opts = {
      width: Math.max(el.clientWidth, 280),
      height: 220,
      padding: [12, 12, 0, 4],
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: { x: { time: false, range: [-0.5, xs.length - 0.5] }, y: { range: (u, min, max) => [0, Math.max(max * 1.1, 1)] } },
      axes: [
        { values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? labels[v] || '' : '')), splits: () => xs,
          stroke: '#52606d', grid: { show: false }, font: '11px system-ui, sans-serif' },
        { stroke: '#52606d', grid: { stroke: '#e4e7eb' }, font: '11px system-ui, sans-serif', size: 48 },
      ],
      legend: { show: true },
      series: [
        { label: interval === 'P1W' ? 'Week' : 'Day', value: (u, v) => (v == null ? '' : labels[v]) },
        ...series.map((s) => ({
          label: s.label, stroke: s.color, width: s.bars ? 0 : 2, fill: s.bars ? `${s.color}cc` : undefined,
          paths: s.bars ? bars : undefined, points: { show: !s.bars, size: 6, fill: s.color },
          value: (u, v) => (v == null ? '' : number(v)),
        })),
      ],
    };
    const plot = new uPlot(opts, data, el);
    const click = () => {
      const i = plot.cursor.idx;
      if (i != null && pick.current) pick.current(i);
    };
    plot.over.addEventListener('click', click);
    if (onPick) plot.over.classList.add('pickable');
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 280), height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [buckets, interval, JSON.stringify(series.map((s) => [s.label, s.key, s.color]))]);
  return html`<div class="chart" ref=${box} role="img" aria-label=${label}></div>`;
}
