// @ts-check
// The detail pane of one record, read whole from the API (`GET {set}/{id}`), in tabs like the
// portal's. The Conditional Access tab exists only when the API included
// `appliedConditionalAccessPolicies`, which it does only for callers allowed to read them.
// Risky users add their history and the Dismiss / Confirm compromised actions.
import { html, useState, useEffect } from './html.js';
import { apiFetch, getJson } from './api.js';
import { at, dateTime, text, words, number } from './format.js';
import { signInStatus, initiator, riskEventName } from './sets.js';
import { ErrorBox, Dialog, Fields, Badge } from './ui.js';

/**
 * @param {{set: any, id: string, ctx: any, onClose: () => void, onChanged: () => void}} props
 */
export function DetailPane({ set, id, ctx, onClose, onChanged }) {
  const [record, setRecord] = useState(null);
  const [error, setError] = useState(null);
  const [tab, setTab] = useState('basic');
  const [version, setVersion] = useState(0);

  useEffect(() => {
    let live = true;
    setError(null);
    getJson(`${set.path}/${encodeURIComponent(id)}`).then((r) => live && setRecord(r), (e) => live && setError(e));
    return () => { live = false; };
  }, [set.key, id, version]);
  useEffect(() => setTab('basic'), [id]);

  const tabs = record ? tabsOf(set, record, ctx, () => { setVersion((v) => v + 1); onChanged(); }) : [];
  const current = tabs.find((t) => t.key === tab) || tabs[0];
  return html`<aside class="detail" aria-label="Details">
    <div class="detail-head">
      <h2>${record ? titleOf(set, record) : 'Details'}</h2>
      <button type="button" class="icon" aria-label="Close details" onClick=${onClose}>×</button>
    </div>
    <${ErrorBox} error=${error} tier=${ctx.tier} />
    ${record ? html`
      <div class="tabs" role="tablist" aria-label="Detail sections">
        ${tabs.map((t) => html`<button type="button" role="tab" id=${`tab-${t.key}`} aria-controls="detail-panel"
          aria-selected=${current.key === t.key ? 'true' : 'false'} class=${current.key === t.key ? 'tab active' : 'tab'}
          onClick=${() => setTab(t.key)}>${t.label}</button>`)}
      </div>
      <div class="tab-panel" role="tabpanel" tabindex="0" id="detail-panel" aria-labelledby=${`tab-${current.key}`}>${current.body()}</div>`
      : error ? null : html`<p class="muted">Loading…</p>`}
  </aside>`;
}

function titleOf(set, r) {
  switch (set.key) {
    case 'signIns': return `Sign-in of ${r.userDisplayName || r.userPrincipalName || 'unknown user'}`;
    case 'directoryAudits': return r.activityDisplayName || 'Audit event';
    case 'riskDetections': return `${riskEventName(r.riskEventType)}: ${r.userDisplayName || r.userPrincipalName || ''}`;
    default: return r.userDisplayName || r.userPrincipalName || 'Risky user';
  }
}

/** Who a record is about: name, user principal name, object id. */
const userRows = (r, id = r.userId) => [['User', r.userDisplayName], ['Username', r.userPrincipalName], ['User ID', id]];

/** Where it happened: IP address and the location's parts. */
const locationRows = (r) => [
  ['IP address', r.ipAddress],
  ['City', at(r, 'location/city')],
  ['State', at(r, 'location/state')],
  ['Country or region', at(r, 'location/countryOrRegion')],
];

const raw = (r) => ({ key: 'raw', label: 'Raw JSON', body: () => html`<pre class="code json" tabindex="0">${JSON.stringify(r, null, 2)}</pre>` });

function tabsOf(set, r, ctx, changed) {
  switch (set.key) {
    case 'signIns': return signInTabs(r);
    case 'directoryAudits': return auditTabs(r);
    case 'riskDetections': return riskDetectionTabs(r);
    default: return riskyUserTabs(r, ctx, changed);
  }
}

function signInTabs(r) {
  const status = signInStatus(r);
  const tabs = [
    { key: 'basic', label: 'Basic info', body: () => html`<${Fields} rows=${[
      ['Date', dateTime(r.createdDateTime)],
      ['Request ID', r.id],
      ['Correlation ID', r.correlationId],
      ...userRows(r),
      ['Application', r.appDisplayName],
      ['Application ID', r.appId],
      ['Resource', r.resourceDisplayName],
      ['Resource ID', r.resourceId],
      ['Client app', r.clientAppUsed],
      ['Interactive', text(r.isInteractive)],
      ['Status', html`<${Badge} value=${status} />`],
      ['Sign-in error code', text(at(r, 'status/errorCode'))],
      ['Failure reason', at(r, 'status/failureReason')],
      ['Additional details', at(r, 'status/additionalDetails')],
      ['Conditional Access', words(r.conditionalAccessStatus)],
      ['Risk state', words(r.riskState)],
      ['Risk level during sign-in', words(r.riskLevelDuringSignIn)],
      ['Risk level (aggregated)', words(r.riskLevelAggregated)],
      ['Risk detail', words(r.riskDetail)],
      ['Risk event types', text(r.riskEventTypes_v2 || r.riskEventTypes)],
    ]} />` },
    { key: 'location', label: 'Location', body: () => html`<${Fields} rows=${[
      ...locationRows(r),
      ['Latitude', text(at(r, 'location/geoCoordinates/latitude'))],
      ['Longitude', text(at(r, 'location/geoCoordinates/longitude'))],
    ]} />` },
    { key: 'device', label: 'Device info', body: () => html`<${Fields} rows=${[
      ['Device ID', at(r, 'deviceDetail/deviceId')],
      ['Name', at(r, 'deviceDetail/displayName')],
      ['Operating system', at(r, 'deviceDetail/operatingSystem')],
      ['Browser', at(r, 'deviceDetail/browser')],
      ['Compliant', text(at(r, 'deviceDetail/isCompliant'))],
      ['Managed', text(at(r, 'deviceDetail/isManaged'))],
      ['Join type', at(r, 'deviceDetail/trustType')],
      ['User agent', r.userAgent],
    ]} />` },
  ];
  if (Object.prototype.hasOwnProperty.call(r, 'appliedConditionalAccessPolicies')) {
    const policies = r.appliedConditionalAccessPolicies || [];
    tabs.push({ key: 'ca', label: 'Conditional Access', body: () => html`
      <p class="muted">Status: ${words(r.conditionalAccessStatus) || '—'} · ${policies.length} policies evaluated</p>
      <table class="grid compact" aria-label="Conditional Access policies">
        <thead><tr><th scope="col">Policy</th><th scope="col">Grant controls</th><th scope="col">Session controls</th><th scope="col">Result</th></tr></thead>
        <tbody>${policies.map((p) => html`<tr><td>${p.displayName || p.id}</td><td>${text(p.enforcedGrantControls) || '—'}</td>
          <td>${text(p.enforcedSessionControls) || '—'}</td><td><span class=${`badge ${caClass(p.result)}`}>${words(p.result)}</span></td></tr>`)}</tbody>
      </table>` });
  }
  tabs.push(raw(r));
  return tabs;
}

function caClass(result) {
  if (result === 'success') return 'ok';
  if (result === 'failure') return 'bad';
  if (result && result.startsWith('reportOnly')) return 'info';
  return 'quiet';
}

function auditTabs(r) {
  const targets = r.targetResources || [];
  return [
    { key: 'basic', label: 'Activity', body: () => html`<${Fields} rows=${[
      ['Date', dateTime(r.activityDateTime)],
      ['Activity', r.activityDisplayName],
      ['Category', r.category],
      ['Service', r.loggedByService],
      ['Operation type', r.operationType],
      ['Status', html`<${Badge} value=${words(r.result)} />`],
      ['Status reason', r.resultReason],
      ['Initiated by', initiator(r.initiatedBy)],
      ['Initiator IP address', at(r, 'initiatedBy/user/ipAddress')],
      ['Correlation ID', r.correlationId],
      ['ID', r.id],
    ]} />` },
    { key: 'targets', label: `Target(s) (${targets.length})`, body: () => html`${targets.map((t) => html`<div class="card">
      <${Fields} rows=${[['Type', t.type], ['Name', t.displayName], ['User principal name', t.userPrincipalName], ['ID', t.id]]} />
      ${(t.modifiedProperties || []).length ? html`<table class="grid compact" aria-label="Modified properties">
        <thead><tr><th scope="col">Property</th><th scope="col">Old value</th><th scope="col">New value</th></tr></thead>
        <tbody>${t.modifiedProperties.map((m) => html`<tr><td>${m.displayName}</td><td class="mono">${m.oldValue}</td><td class="mono">${m.newValue}</td></tr>`)}</tbody>
      </table>` : null}</div>`)}` },
    { key: 'details', label: 'Additional details', body: () => html`<${Fields}
      rows=${(r.additionalDetails || []).map((d) => [d.key, d.value])} />` },
    raw(r),
  ];
}

function riskDetectionTabs(r) {
  return [
    { key: 'basic', label: 'Basic info', body: () => html`<${Fields} rows=${[
      ['Detection type', riskEventName(r.riskEventType)],
      ['Risk event type', r.riskEventType],
      ['Risk level', html`<${Badge} value=${words(r.riskLevel)} />`],
      ['Risk state', words(r.riskState)],
      ['Risk detail', words(r.riskDetail)],
      ['Detection timing', words(r.detectionTimingType)],
      ['Source', r.source],
      ['Activity', words(r.activity)],
      ['Token issuer', r.tokenIssuerType],
      ['Detected', dateTime(r.detectedDateTime)],
      ['Activity time', dateTime(r.activityDateTime)],
      ['Last updated', dateTime(r.lastUpdatedDateTime)],
      ...userRows(r),
      ['Sign-in request ID', r.requestId],
      ['Correlation ID', r.correlationId],
      ['Detection ID', r.id],
    ]} />` },
    { key: 'location', label: 'Location', body: () => html`<${Fields} rows=${[
      ...locationRows(r),
      ['Additional info', r.additionalInfo],
    ]} />` },
    raw(r),
  ];
}

function riskyUserTabs(r, ctx, changed) {
  return [
    { key: 'basic', label: 'Basic info', body: () => html`<${Fields} rows=${[
      ...userRows(r, r.id),
      ['Risk state', words(r.riskState)],
      ['Risk level', html`<${Badge} value=${words(r.riskLevel)} />`],
      ['Risk detail', words(r.riskDetail)],
      ['Risk last updated', dateTime(r.riskLastUpdatedDateTime)],
      ['Processing', text(r.isProcessing)],
      ['Deleted', text(r.isDeleted)],
    ]} /><${RiskActions} user=${r} ctx=${ctx} changed=${changed} />` },
    { key: 'history', label: 'Risk history', body: () => html`<${History} userId=${r.id} version=${r.riskLastUpdatedDateTime} />` },
    raw(r),
  ];
}

function History({ userId, version }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    getJson(`/v1.0/identityProtection/riskyUsers/${encodeURIComponent(userId)}/history?$count=true`)
      .then((b) => live && setItems(b.value || []), (e) => live && setError(e));
    return () => { live = false; };
  }, [userId, version]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!items) return html`<p class="muted">Loading…</p>`;
  return html`<p class="muted">${number(items.length)} changes, latest first</p>
    <table class="grid compact" aria-label="Risk history">
      <thead><tr><th scope="col">Date</th><th scope="col">Risk state</th><th scope="col">Risk level</th><th scope="col">Risk detail</th><th scope="col">Initiated by</th></tr></thead>
      <tbody>${items.map((h) => html`<tr class="history-item"><td>${dateTime(h.riskLastUpdatedDateTime)}</td><td>${words(h.riskState)}</td>
        <td>${words(h.riskLevel)}</td><td>${words(h.riskDetail)}</td><td class="mono small">${h.initiatedBy || '—'}</td></tr>`)}</tbody>
    </table>`;
}

const ACTIONS = {
  dismiss: { label: 'Dismiss user risk', done: 'User risk dismissed',
    confirm: 'Dismiss this user\u2019s risk? The risk state becomes Dismissed and the risk level None; the change is recorded in the user\u2019s risk history and the audit log.' },
  confirmCompromised: { label: 'Confirm user compromised', done: 'User confirmed compromised',
    confirm: 'Confirm that this user is compromised? The risk state becomes Confirmed compromised and the risk level High; the change is recorded in the user\u2019s risk history and the audit log.' },
};

function RiskActions({ user, ctx, changed }) {
  const [asking, setAsking] = useState(null);
  const [result, setResult] = useState(null);
  const run = async (action) => {
    setAsking(null);
    setResult(null);
    try {
      await apiFetch(`/v1.0/identityProtection/riskyUsers/${action}`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ userIds: [user.id] }),
      });
      setResult({ text: `${ACTIONS[action].done}: ${user.userDisplayName || user.id}.` });
      changed();
    } catch (error) {
      setResult({ error });
    }
  };
  return html`<div class="actions">
    <button type="button" onClick=${() => setAsking('dismiss')}>${ACTIONS.dismiss.label}</button>
    <button type="button" class="danger" onClick=${() => setAsking('confirmCompromised')}>${ACTIONS.confirmCompromised.label}</button>
    ${result ? html`<div class="notice" role="status">${result.error ? html`<${ErrorBox} error=${result.error} tier=${ctx.tier} />` : result.text}</div>` : null}
    ${asking ? html`<${Dialog} title=${ACTIONS[asking].label} onClose=${() => setAsking(null)}>
      <p>${ACTIONS[asking].confirm}</p>
      <p><strong>${user.userDisplayName}</strong> <span class="muted">${user.userPrincipalName}</span></p>
      <div class="dialog-actions">
        <button type="button" class=${asking === 'dismiss' ? 'primary' : 'primary danger'} onClick=${() => run(asking)}>${ACTIONS[asking].label}</button>
        <button type="button" onClick=${() => setAsking(null)}>Cancel</button>
      </div>
    </${Dialog}>` : null}
  </div>`;
}
