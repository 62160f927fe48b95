// @ts-check
// The four lists the console shows, as data: each column's label, the properties it needs
// (`$select`), the property it sorts by (`$orderby`), how a cell reads, and the filter that comes
// with it (`$filter`). The list view (list.js) is one component driven by these.
import { at, dateTime, lit, words, text } from './format.js';

/**
 * @typedef {{value: string, label: string, expr: string | null}} Choice
 * @typedef {{key: string, label: string, type: 'text' | 'choice', placeholder?: string,
 *   build?: (v: string) => string, options?: Choice[]}} FilterDef
 * @typedef {{key: string, label: string, select: string[], orderBy?: string, value: (r: any) => string,
 *   kind?: string, sub?: (r: any) => string, filter?: FilterDef}} Column
 */

const choice = (value, label, expr) => ({ value, label, expr });
const all = choice('', 'All', null);
const textFilter = (key, label, build, placeholder) => ({ key, label, type: 'text', build, placeholder });
const choiceFilter = (key, label, options) => ({ key, label, type: 'choice', options: [all, ...options] });

const riskLevels = (path) =>
  ['low', 'medium', 'high', 'none'].map((l) => choice(l, words(l), `${path} eq '${l}'`));
const riskStates = (path) =>
  ['atRisk', 'confirmedCompromised', 'remediated', 'dismissed', 'confirmedSafe', 'none'].map((s) =>
    choice(s, words(s), `${path} eq '${s}'`));

/** The portal's Client app choices (Graph's clientAppUsed values, legacy clients grouped). */
const LEGACY_CLIENTS = ['Other clients', 'IMAP4', 'MAPI Over HTTP', 'POP3', 'Authenticated SMTP',
  'Exchange Web Services', 'Offline Address Book', 'Outlook Anywhere (RPC over HTTP)',
  'Exchange Online PowerShell', 'AutoDiscover'];
const clientApps = [
  choice('browser', 'Browser', "clientAppUsed eq 'Browser'"),
  choice('modern', 'Mobile apps and desktop clients', "clientAppUsed eq 'Mobile Apps and Desktop clients'"),
  choice('eas', 'Exchange ActiveSync', "clientAppUsed eq 'Exchange ActiveSync'"),
  choice('legacy', 'Other clients (all legacy)', `clientAppUsed in (${LEGACY_CLIENTS.map(lit).join(',')})`),
  choice('imap', '· IMAP', "clientAppUsed eq 'IMAP4'"),
  choice('mapi', '· MAPI', "clientAppUsed eq 'MAPI Over HTTP'"),
  choice('older', '· Older Office clients', "clientAppUsed eq 'Other clients'"),
  choice('pop', '· POP', "clientAppUsed eq 'POP3'"),
  choice('smtp', '· SMTP', "clientAppUsed eq 'Authenticated SMTP'"),
];

/** The portal's names of risk detection types (Graph's riskEventType values). */
const RISK_EVENT_NAMES = {
  anonymizedIPAddress: 'Anonymous IP address',
  maliciousIPAddress: 'Malicious IP address',
  unfamiliarFeatures: 'Unfamiliar sign-in properties',
  unlikelyTravel: 'Atypical travel',
  mcasImpossibleTravel: 'Impossible travel',
  leakedCredentials: 'Leaked credentials',
  passwordSpray: 'Password spray',
  suspiciousInboxForwarding: 'Suspicious inbox forwarding',
};

/** A risk detection type as the portal names it (else its words). */
export function riskEventName(type) {
  return RISK_EVENT_NAMES[type] || words(type);
}

const yesNo = (path) => [choice('yes', 'Yes', `${path} eq true`), choice('no', 'No', `${path} eq false`)];

const location = (r) => [at(r, 'location/city'), at(r, 'location/state'), at(r, 'location/countryOrRegion')]
  .filter(Boolean).join(', ');

const startsWith = (path) => (v) => `startswith(${path},${lit(v)})`;
const equals = (path) => (v) => `${path} eq ${lit(v)}`;

/** The user a record is about: name, and the user principal name under it; filtered by either. */
const userColumn = {
  key: 'user', label: 'User', select: ['userDisplayName', 'userPrincipalName'], orderBy: 'userDisplayName',
  value: (r) => r.userDisplayName || r.userPrincipalName || '', sub: (r) => r.userPrincipalName || '',
};
const userFilter = textFilter('user', 'User',
  (v) => `(startswith(userDisplayName,${lit(v)}) or startswith(userPrincipalName,${lit(v)}))`, 'name or user principal name');

/** Sign-ins: the portal's default columns first. */
const signInColumns = [
  { key: 'date', label: 'Date', select: ['createdDateTime'], orderBy: 'createdDateTime',
    value: (r) => dateTime(r.createdDateTime) },
  userColumn,
  { key: 'application', label: 'Application', select: ['appDisplayName'], orderBy: 'appDisplayName',
    value: (r) => r.appDisplayName || '' },
  { key: 'status', label: 'Status', select: ['status'], orderBy: 'status/errorCode', kind: 'status',
    value: (r) => signInStatus(r) },
  { key: 'risk', label: 'Risk detected', select: ['riskState'], orderBy: 'riskState', kind: 'risk',
    value: (r) => (r.riskState == null ? '' : r.riskState === 'none' ? 'No' : 'Yes') },
  { key: 'ca', label: 'Conditional Access', select: ['conditionalAccessStatus'], orderBy: 'conditionalAccessStatus',
    kind: 'ca', value: (r) => words(r.conditionalAccessStatus),
    filter: choiceFilter('ca', 'Conditional Access', ['success', 'failure', 'notApplied'].map((s) =>
      choice(s, words(s), `conditionalAccessStatus eq '${s}'`))) },
  { key: 'ip', label: 'IP address', select: ['ipAddress'], orderBy: 'ipAddress', value: (r) => r.ipAddress || '',
    filter: textFilter('ip', 'IP address', startsWith('ipAddress'), 'starts with') },
  { key: 'location', label: 'Location', select: ['location'], orderBy: 'location/city', value: location,
    filter: textFilter('location', 'Location',
      (v) => `(startswith(location/city,${lit(v)}) or location/countryOrRegion eq ${lit(v)})`, 'city or country code') },
  { key: 'clientApp', label: 'Client app', select: ['clientAppUsed'], orderBy: 'clientAppUsed',
    value: (r) => r.clientAppUsed || '', filter: choiceFilter('clientApp', 'Client app', clientApps) },
  { key: 'browser', label: 'Browser', select: ['deviceDetail'], orderBy: 'deviceDetail/browser',
    value: (r) => at(r, 'deviceDetail/browser') || '',
    filter: textFilter('browser', 'Browser', startsWith('deviceDetail/browser'), 'starts with') },
  { key: 'os', label: 'Operating system', select: ['deviceDetail'], orderBy: 'deviceDetail/operatingSystem',
    value: (r) => at(r, 'deviceDetail/operatingSystem') || '',
    filter: textFilter('os', 'Operating system', startsWith('deviceDetail/operatingSystem'), 'starts with') },
  { key: 'interactive', label: 'Interactive', select: ['isInteractive'], orderBy: 'isInteractive',
    value: (r) => text(r.isInteractive), filter: choiceFilter('interactive', 'Interactive', yesNo('isInteractive')) },
  { key: 'resource', label: 'Resource', select: ['resourceDisplayName'], orderBy: 'resourceDisplayName',
    value: (r) => r.resourceDisplayName || '',
    filter: textFilter('resource', 'Resource', startsWith('resourceDisplayName'), 'starts with') },
  { key: 'riskLevel', label: 'Risk level during sign-in', select: ['riskLevelDuringSignIn'],
    orderBy: 'riskLevelDuringSignIn', value: (r) => words(r.riskLevelDuringSignIn),
    filter: choiceFilter('riskLevel', 'Risk level during sign-in', riskLevels('riskLevelDuringSignIn')) },
  { key: 'riskState', label: 'Risk state', select: ['riskState'], orderBy: 'riskState',
    value: (r) => words(r.riskState), filter: choiceFilter('riskState', 'Risk state', riskStates('riskState')) },
  { key: 'correlationId', label: 'Correlation ID', select: ['correlationId'], orderBy: 'correlationId',
    value: (r) => r.correlationId || '', filter: textFilter('correlationId', 'Correlation ID', equals('correlationId')) },
  { key: 'requestId', label: 'Request ID', select: ['id'], orderBy: 'id', value: (r) => r.id || '',
    filter: textFilter('requestId', 'Request ID', equals('id')) },
  { key: 'userId', label: 'User ID', select: ['userId'], orderBy: 'userId', value: (r) => r.userId || '',
    filter: textFilter('userId', 'User ID', equals('userId')) },
  { key: 'appId', label: 'Application ID', select: ['appId'], orderBy: 'appId', value: (r) => r.appId || '',
    filter: textFilter('appId', 'Application ID', equals('appId')) },
];

/** @param {any} r */
export function signInStatus(r) {
  const code = at(r, 'status/errorCode');
  if (code == null) return '';
  return code === 0 ? 'Success' : 'Failure';
}

export const SETS = {
  signIns: {
    key: 'signIns',
    route: 'sign-ins',
    title: 'Sign-ins',
    noun: 'sign-ins',
    path: '/v1.0/auditLogs/signIns',
    timeField: 'createdDateTime',
    defaultDate: '1m',
    columns: signInColumns,
    defaultColumns: ['date', 'user', 'application', 'status', 'risk', 'ca'],
    filters: [
      userFilter,
      textFilter('application', 'Application', startsWith('appDisplayName'), 'application name'),
      choiceFilter('status', 'Status', [choice('success', 'Success', 'status/errorCode eq 0'),
        choice('failure', 'Failure', 'status/errorCode ne 0')]),
      choiceFilter('risk', 'Risk detected', [choice('yes', 'Yes', "riskState ne 'none'"),
        choice('no', 'No', "riskState eq 'none'")]),
    ],
  },
  directoryAudits: {
    key: 'directoryAudits',
    route: 'audit-logs',
    title: 'Audit logs',
    noun: 'audit events',
    path: '/v1.0/auditLogs/directoryAudits',
    timeField: 'activityDateTime',
    defaultDate: '1m',
    columns: [
      { key: 'date', label: 'Date', select: ['activityDateTime'], orderBy: 'activityDateTime',
        value: (r) => dateTime(r.activityDateTime) },
      { key: 'service', label: 'Service', select: ['loggedByService'], orderBy: 'loggedByService',
        value: (r) => r.loggedByService || '' },
      { key: 'category', label: 'Category', select: ['category'], orderBy: 'category', value: (r) => r.category || '' },
      { key: 'activity', label: 'Activity', select: ['activityDisplayName'], orderBy: 'activityDisplayName',
        value: (r) => r.activityDisplayName || '' },
      { key: 'status', label: 'Status', select: ['result'], orderBy: 'result', kind: 'status',
        value: (r) => words(r.result) },
      { key: 'initiatedBy', label: 'Initiated by (actor)', select: ['initiatedBy'],
        orderBy: 'initiatedBy/user/userPrincipalName', value: (r) => initiator(r.initiatedBy) },
      { key: 'target', label: 'Target', select: ['targetResources'],
        value: (r) => (r.targetResources || []).map((t) => t.userPrincipalName || t.displayName || t.id).join(', ') },
      { key: 'reason', label: 'Status reason', select: ['resultReason'], value: (r) => r.resultReason || '' },
      { key: 'operationType', label: 'Operation type', select: ['operationType'], orderBy: 'operationType',
        value: (r) => r.operationType || '',
        filter: textFilter('operationType', 'Operation type', equals('operationType'), 'Add, Update, Delete…') },
      { key: 'correlationId', label: 'Correlation ID', select: ['correlationId'], orderBy: 'correlationId',
        value: (r) => r.correlationId || '', filter: textFilter('correlationId', 'Correlation ID', equals('correlationId')) },
    ],
    defaultColumns: ['date', 'service', 'category', 'activity', 'status', 'initiatedBy', 'target'],
    filters: [
      choiceFilter('category', 'Category', ['ApplicationManagement', 'Authentication', 'Device', 'DirectoryManagement',
        'GroupManagement', 'IdentityProtection', 'Policy', 'RoleManagement', 'UserManagement']
        .map((c) => choice(c, words(c), `category eq '${c}'`))),
      textFilter('activity', 'Activity', startsWith('activityDisplayName'), 'starts with'),
      choiceFilter('status', 'Status', [choice('success', 'Success', "result eq 'success'"),
        choice('failure', 'Failure', "result eq 'failure'")]),
      textFilter('initiatedBy', 'Initiated by',
        (v) => `(startswith(initiatedBy/user/userPrincipalName,${lit(v)}) or startswith(initiatedBy/app/displayName,${lit(v)}))`,
        'user principal name or app'),
      textFilter('target', 'Target',
        (v) => `targetResources/any(t: startswith(t/userPrincipalName,${lit(v)}) or startswith(t/displayName,${lit(v)}))`,
        'user principal name or name'),
    ],
  },
  riskDetections: {
    key: 'riskDetections',
    route: 'risk-detections',
    title: 'Risk detections',
    noun: 'risk detections',
    path: '/v1.0/identityProtection/riskDetections',
    timeField: 'detectedDateTime',
    defaultDate: 'all',
    columns: [
      { key: 'date', label: 'Detection time', select: ['detectedDateTime'], orderBy: 'detectedDateTime',
        value: (r) => dateTime(r.detectedDateTime) },
      userColumn,
      { key: 'type', label: 'Detection type', select: ['riskEventType'], orderBy: 'riskEventType',
        value: (r) => riskEventName(r.riskEventType) },
      { key: 'level', label: 'Risk level', select: ['riskLevel'], orderBy: 'riskLevel', kind: 'level',
        value: (r) => words(r.riskLevel) },
      { key: 'state', label: 'Risk state', select: ['riskState'], orderBy: 'riskState', value: (r) => words(r.riskState) },
      { key: 'ip', label: 'IP address', select: ['ipAddress'], orderBy: 'ipAddress', value: (r) => r.ipAddress || '' },
      { key: 'location', label: 'Location', select: ['location'], orderBy: 'location/city', value: location },
      { key: 'timing', label: 'Detection timing', select: ['detectionTimingType'], orderBy: 'detectionTimingType',
        value: (r) => words(r.detectionTimingType) },
      { key: 'detail', label: 'Risk detail', select: ['riskDetail'], orderBy: 'riskDetail', value: (r) => words(r.riskDetail) },
      { key: 'source', label: 'Source', select: ['source'], orderBy: 'source', value: (r) => r.source || '' },
      { key: 'requestId', label: 'Request ID', select: ['requestId'], orderBy: 'requestId', value: (r) => r.requestId || '',
        filter: textFilter('requestId', 'Request ID', equals('requestId')) },
    ],
    defaultColumns: ['date', 'user', 'type', 'level', 'state', 'ip', 'location'],
    filters: [
      userFilter,
      choiceFilter('type', 'Detection type', Object.keys(RISK_EVENT_NAMES)
        .map((t) => choice(t, RISK_EVENT_NAMES[t], `riskEventType eq '${t}'`))),
      choiceFilter('level', 'Risk level', riskLevels('riskLevel')),
      choiceFilter('state', 'Risk state', riskStates('riskState')),
    ],
  },
  riskyUsers: {
    key: 'riskyUsers',
    route: 'risky-users',
    title: 'Risky users',
    noun: 'risky users',
    path: '/v1.0/identityProtection/riskyUsers',
    timeField: 'riskLastUpdatedDateTime',
    defaultDate: 'all',
    columns: [
      userColumn,
      { key: 'state', label: 'Risk state', select: ['riskState'], orderBy: 'riskState', value: (r) => words(r.riskState) },
      { key: 'level', label: 'Risk level', select: ['riskLevel'], orderBy: 'riskLevel', kind: 'level',
        value: (r) => words(r.riskLevel) },
      { key: 'detail', label: 'Risk detail', select: ['riskDetail'], orderBy: 'riskDetail', value: (r) => words(r.riskDetail) },
      { key: 'date', label: 'Risk last updated', select: ['riskLastUpdatedDateTime'], orderBy: 'riskLastUpdatedDateTime',
        value: (r) => dateTime(r.riskLastUpdatedDateTime) },
      { key: 'processing', label: 'Processing', select: ['isProcessing'], orderBy: 'isProcessing',
        value: (r) => text(r.isProcessing) },
      { key: 'deleted', label: 'Deleted', select: ['isDeleted'], orderBy: 'isDeleted', value: (r) => text(r.isDeleted),
        filter: choiceFilter('deleted', 'Deleted', yesNo('isDeleted')) },
    ],
    defaultColumns: ['user', 'state', 'level', 'detail', 'date'],
    filters: [
      userFilter,
      choiceFilter('state', 'Risk state', riskStates('riskState')),
      choiceFilter('level', 'Risk level', riskLevels('riskLevel')),
    ],
  },
};

/** Who started an audited activity: a user's UPN or an app's name. */
export function initiator(by) {
  if (!by) return '';
  if (by.user) return by.user.userPrincipalName || by.user.displayName || by.user.id || '';
  if (by.app) return by.app.displayName || by.app.appId || '';
  return '';
}

export const DATE_CHOICES = [
  { value: 'all', label: 'All (retention window)' },
  { value: '24h', label: 'Last 24 hours' },
  { value: '7d', label: 'Last 7 days' },
  { value: '1m', label: 'Last 1 month' },
  { value: 'custom', label: 'Custom time interval' },
];
