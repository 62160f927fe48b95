//! Identity Protection demo data, derived from the demo sign-ins: a v1.0 `riskDetection` for every
//! detection on every risky sign-in of a real user (same request and correlation ids, user,
//! address, place and user agent), and the risky users those detections make, each with an
//! append-only history whose last item is the user's current state.
//!
//! It is one pass over [`super::sign_ins`], so it is deterministic for a [`DemoConfig`], consistent
//! with the sign-ins by construction, and holds only the risky sign-ins (about one in seventy) and
//! the expired-password failures `audits` needs in memory. It must never contradict a sign-in: a detection's level, state and detail are its
//! sign-in's.
//!
//! How a risky sign-in becomes detections and user risk:
//! - One detection per entry of `riskEventTypes_v2`. `unfamiliarFeatures` and `anonymizedIPAddress`
//!   are real-time (detected at the sign-in); the others are offline, found minutes to hours later
//!   and never after `cfg.end`. `leakedCredentials` is a user-level detection, as in Entra: activity
//!   `user`, no request, correlation, address or place; it is tied to the sign-in by user and time.
//! - A password spray's guess at an account that does not exist has no detection and no user.
//! - The user's risk rises when the sign-in's risk is detected (level: the highest still open) and
//!   settles as the sign-in's state says: `remediated` by multi-factor authentication minutes
//!   later, `dismissed` / `confirmedSafe` / `confirmedCompromised` by a security administrator
//!   within three days (before the user's next risky sign-in when there is room). A confirmed
//!   compromise is followed, more often than not, by the Global Administrator resetting the
//!   password (`adminGeneratedTemporaryPassword`), which `audits` logs.
//! - Everything is generated for every tier: hiding levels from P1 tenants and refusing Free
//!   tenants is the API's job, as for the sign-ins' risk fields.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::audits::DemoRecord;
use super::people::{self, Person};
use super::rng::{Rng, hash_str, mix, stable_guid};
use super::{DemoConfig, DemoTenant, TENANTS, sign_ins};
use domain::time::{TICKS_PER_DAY, TICKS_PER_SECOND, format_ticks, parse_ticks, to_ticks};

/// A risky user of a demo tenant: its current state and how it got there.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoRiskyUser {
    pub tenant_id: &'static str,
    /// The v1.0 `riskyUser` document. Its risk properties and `riskLastUpdatedDateTime` are those of
    /// the last history item.
    pub current: Map<String, Value>,
    /// v1.0 `riskyUserHistoryItem` documents, oldest first; never empty.
    pub history: Vec<Map<String, Value>>,
}

/// The Identity Protection data of a [`DemoConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityProtection {
    /// v1.0 `riskDetection` documents, by `activityDateTime` then `id`.
    pub risk_detections: Vec<DemoRecord>,
    /// By tenant (in [`TENANTS`] order), then by the user's place in `users(tenant)`.
    pub risky_users: Vec<DemoRiskyUser>,
}

/// The risk detections and risky users that go with `sign_ins(cfg)`. Deterministic for `cfg`.
#[must_use]
pub fn identity_protection(cfg: &DemoConfig) -> IdentityProtection {
    analyse(cfg).into()
}

impl From<Analysis> for IdentityProtection {
    fn from(a: Analysis) -> Self {
        Self { risk_detections: a.detections, risky_users: a.risky_users }
    }
}

/// The risk detections of [`identity_protection`].
#[must_use]
pub fn risk_detections(cfg: &DemoConfig) -> Vec<DemoRecord> {
    analyse(cfg).detections
}

/// The risky users of [`identity_protection`].
#[must_use]
pub fn risky_users(cfg: &DemoConfig) -> Vec<DemoRiskyUser> {
    analyse(cfg).risky_users
}

/// What Entra ID logs as the user id of an account that does not exist.
const UNKNOWN_USER_ID: &str = "00000000-0000-0000-0000-000000000000";
const MINUTE: i64 = 60 * TICKS_PER_SECOND;

/// How Identity Protection reports a detection type the sign-in generator uses.
struct Kind {
    event: &'static str,
    timing: &'static str,
    activity: &'static str,
    source: &'static str,
    /// How long after the activity an offline detection is found, in minutes.
    delay: (u32, u32),
    /// Whether `additionalInfo` names the earlier, usual sign-in (travel detections).
    travel: bool,
}

const KINDS: [Kind; 6] = [
    Kind {
        event: "unfamiliarFeatures",
        timing: "realtime",
        activity: "signin",
        source: "IdentityProtection",
        delay: (0, 0),
        travel: false,
    },
    Kind {
        event: "anonymizedIPAddress",
        timing: "realtime",
        activity: "signin",
        source: "IdentityProtection",
        delay: (0, 0),
        travel: false,
    },
    Kind {
        event: "unlikelyTravel",
        timing: "offline",
        activity: "signin",
        source: "IdentityProtection",
        delay: (90, 600),
        travel: true,
    },
    Kind {
        event: "maliciousIPAddress",
        timing: "offline",
        activity: "signin",
        source: "IdentityProtection",
        delay: (20, 360),
        travel: false,
    },
    Kind {
        event: "mcasImpossibleTravel",
        timing: "offline",
        activity: "signin",
        source: "MicrosoftCloudAppSecurity",
        delay: (30, 240),
        travel: true,
    },
    Kind {
        event: "leakedCredentials",
        timing: "offline",
        activity: "user",
        source: "IdentityProtection",
        delay: (240, 2_160),
        travel: false,
    },
];

fn kind_of(event: &str) -> &'static Kind {
    KINDS.iter().find(|k| k.event == event).unwrap_or(&KINDS[0])
}

/// An administrator's password reset that followed a confirmed compromise (`audits` logs it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PasswordReset {
    pub tenant: usize,
    pub at: i64,
    /// Indexes into the tenant's people.
    pub user: usize,
    pub admin: usize,
}

/// Everything derived from one pass over the sign-ins.
#[derive(Debug)]
pub(super) struct Analysis {
    pub detections: Vec<DemoRecord>,
    pub risky_users: Vec<DemoRiskyUser>,
    pub password_resets: Vec<PasswordReset>,
    /// Sign-ins of real users that failed on an expired password (50055), with their tenant index.
    pub expired_passwords: Vec<(usize, Map<String, Value>)>,
}

/// A risky sign-in of a real user and what became of its risk.
struct Finding {
    doc: Map<String, Value>,
    at: i64,
    /// When each of its `riskEventTypes_v2` was detected.
    detected: Vec<i64>,
    /// When the sign-in's final state was reached, unless it is still `atRisk`.
    settled: Option<i64>,
    rng: Rng,
}

impl Finding {
    fn text(&self, key: &str) -> &str {
        self.doc.get(key).and_then(Value::as_str).unwrap_or_default()
    }

    fn events(&self) -> Vec<String> {
        let list = self.doc.get("riskEventTypes_v2").and_then(Value::as_array);
        list.map(|l| l.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default()
    }
}

/// One change of a user's risk, before it is written as a history item.
enum Step {
    Raise { level: String, events: Vec<String> },
    Settle { state: &'static str, level: &'static str, detail: &'static str, by: Option<usize> },
}

pub(super) fn analyse(cfg: &DemoConfig) -> Analysis {
    let end = to_ticks(cfg.end);
    let mut risky: Vec<Vec<Map<String, Value>>> = vec![Vec::new(); TENANTS.len()];
    let mut expired_passwords = Vec::new();
    for s in sign_ins(cfg) {
        let Some(t) = TENANTS.iter().position(|t| t.id == s.tenant_id) else { continue };
        let d = &s.document;
        if d.get("userId").and_then(Value::as_str) == Some(UNKNOWN_USER_ID) {
            continue;
        }
        if d.get("riskState").and_then(Value::as_str).is_some_and(|r| r != "none") {
            if let Some(list) = risky.get_mut(t) {
                list.push(s.document);
            }
        } else if d.get("status").and_then(|s| s.get("errorCode")).and_then(Value::as_i64) == Some(50055) {
            expired_passwords.push((t, s.document));
        }
    }
    let mut detections = Vec::new();
    let mut risky_users = Vec::new();
    let mut password_resets = Vec::new();
    for ((t, tenant), found) in TENANTS.iter().enumerate().zip(risky) {
        let people = people::people(tenant);
        let index: HashMap<&str, usize> =
            people.iter().enumerate().map(|(i, p)| (p.user.object_id.as_str(), i)).collect();
        let security_admin =
            people.iter().position(|p| p.user.admin_role == Some("Security Administrator")).unwrap_or(0);
        let mut per_user: Vec<Vec<Finding>> = (0..people.len()).map(|_| Vec::new()).collect();
        for doc in found {
            let user = doc.get("userId").and_then(Value::as_str).and_then(|u| index.get(u)).copied();
            let at = doc.get("createdDateTime").and_then(Value::as_str).and_then(|c| parse_ticks(c).ok());
            let (Some(user), Some(at)) = (user, at) else { continue };
            let id = doc.get("id").and_then(Value::as_str).unwrap_or_default();
            let rng = Rng::new(mix(&[cfg.seed, hash_str(id), 0x1DE7]));
            if let Some(list) = per_user.get_mut(user) {
                list.push(Finding { doc, at, detected: Vec::new(), settled: None, rng });
            }
        }
        for ((u, findings), person) in per_user.iter_mut().enumerate().zip(&people) {
            if findings.is_empty() {
                continue;
            }
            settle(findings, end);
            for f in findings.iter_mut() {
                detections.extend(detection_docs(tenant, person, f, end));
            }
            let steps = steps(findings, u, security_admin, end, t, &mut password_resets);
            risky_users.push(risky_user(tenant, &people, person, steps, cfg.seed));
        }
    }
    detections.sort_by(|a, b| {
        let key = |r: &DemoRecord| {
            (r.document.get("activityDateTime").and_then(Value::as_str).unwrap_or_default().to_owned(), id_of(r))
        };
        key(a).cmp(&key(b))
    });
    password_resets.sort_by_key(|r| (r.at, r.tenant, r.user));
    Analysis { detections, risky_users, password_resets, expired_passwords }
}

fn id_of(r: &DemoRecord) -> String {
    r.document.get("id").and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// When each finding's detections are found and when its state was reached: offline detections
/// within their delay, an administrator's decision within three days but before the user's next
/// risky sign-in when there is room, and nothing after `end`.
fn settle(findings: &mut [Finding], end: i64) {
    let next_at: Vec<Option<i64>> = (0..findings.len()).map(|i| findings.get(i + 1).map(|f| f.at)).collect();
    for (f, next) in findings.iter_mut().zip(next_at) {
        let events = f.events();
        f.detected = events
            .iter()
            .map(|e| {
                let (lo, hi) = kind_of(e).delay;
                if hi == 0 {
                    return f.at;
                }
                let jitter = f.rng.below(MINUTE as u64) as i64;
                (f.at + i64::from(f.rng.between(lo, hi)) * MINUTE + jitter).min(end)
            })
            .collect();
        let last = f.detected.iter().copied().max().unwrap_or(f.at);
        let delay = match f.text("riskState") {
            "atRisk" => None,
            "remediated" => Some(i64::from(f.rng.between(20, 240)) * TICKS_PER_SECOND),
            _ => Some(i64::from(f.rng.between(30, 72 * 60)) * MINUTE),
        };
        f.settled = delay.map(|d| {
            let mut at = last + d + f.rng.below(TICKS_PER_SECOND as u64) as i64;
            if let Some(next) = next.filter(|n| *n > last + MINUTE) {
                at = at.min(next - MINUTE / 2);
            }
            at.min(end)
        });
    }
}

fn detection_docs(tenant: &DemoTenant, person: &Person, f: &mut Finding, end: i64) -> Vec<DemoRecord> {
    let events = f.events();
    let mut out = Vec::with_capacity(events.len());
    for (event, detected) in events.iter().zip(f.detected.clone()) {
        let kind = kind_of(event);
        let sign_in = kind.activity == "signin";
        let last_updated = f.settled.unwrap_or_else(|| {
            (detected + i64::from(f.rng.between(20, 240)) * TICKS_PER_SECOND + f.rng.below(10_000_000) as i64).min(end)
        });
        let id = hex64(&[hash_str(f.text("id")), hash_str(event), 0xDE7E]);
        let info = if sign_in { additional_info(tenant, person, f, kind) } else { Value::Null };
        let linked = |key: &str| if sign_in { f.doc.get(key).cloned().unwrap_or(Value::Null) } else { Value::Null };
        let mut d = Map::with_capacity(20);
        d.insert("id".into(), id.into());
        d.insert("requestId".into(), linked("id"));
        d.insert("correlationId".into(), linked("correlationId"));
        d.insert("riskEventType".into(), event.as_str().into());
        d.insert("riskState".into(), f.text("riskState").into());
        d.insert("riskLevel".into(), f.text("riskLevelDuringSignIn").into());
        d.insert("riskDetail".into(), f.text("riskDetail").into());
        d.insert("source".into(), kind.source.into());
        d.insert("detectionTimingType".into(), kind.timing.into());
        d.insert("activity".into(), kind.activity.into());
        d.insert("tokenIssuerType".into(), "AzureAD".into());
        d.insert("ipAddress".into(), linked("ipAddress"));
        d.insert("activityDateTime".into(), format_ticks(f.at).into());
        d.insert("detectedDateTime".into(), format_ticks(detected).into());
        d.insert("lastUpdatedDateTime".into(), format_ticks(last_updated).into());
        d.insert("userId".into(), f.text("userId").into());
        d.insert("userDisplayName".into(), f.text("userDisplayName").into());
        d.insert("userPrincipalName".into(), f.text("userPrincipalName").into());
        d.insert("additionalInfo".into(), info);
        d.insert("location".into(), linked("location"));
        out.push(DemoRecord { tenant_id: tenant.id, document: d });
    }
    out
}

/// `additionalInfo`: the user agent, and for travel detections the earlier sign-in from home.
fn additional_info(tenant: &DemoTenant, person: &Person, f: &mut Finding, kind: &Kind) -> Value {
    let mut info = vec![json!({"Key": "userAgent", "Value": f.text("userAgent")})];
    let home = people::profile_of(tenant).region.cities.get(person.home_city).map(|(city, _)| city);
    if let Some(home) = home.filter(|_| kind.travel) {
        let earlier = f.at - i64::from(f.rng.between(45, 300)) * MINUTE;
        info.push(json!({"Key": "relatedEventTimeInUtc", "Value": format_ticks(earlier)}));
        info.push(json!({"Key": "relatedUserAgent", "Value": person.computer.user_agent}));
        info.push(json!({"Key": "relatedLocation", "Value": {
            "clientCity": home.name.to_lowercase(),
            "clientState": home.state.to_lowercase(),
            "clientCountryAlpha2Code": home.country,
        }}));
    }
    Value::String(Value::Array(info).to_string())
}

/// 64 hexadecimal digits from a hash of `words`, like Identity Protection's detection ids.
fn hex64(words: &[u64]) -> String {
    let mut h = mix(words);
    let mut out = String::with_capacity(64);
    for i in 0..4 {
        out.push_str(&format!("{h:016x}"));
        h = mix(&[h, i]);
    }
    out
}

/// The user's risk changes in time order, with the password resets that followed a confirmed
/// compromise recorded for the audit log.
fn steps(
    findings: &mut [Finding],
    user: usize,
    security_admin: usize,
    end: i64,
    tenant: usize,
    resets: &mut Vec<PasswordReset>,
) -> Vec<(i64, Step)> {
    let mut steps: Vec<(i64, usize, Step)> = Vec::new();
    for f in findings.iter_mut() {
        let detected = f.detected.iter().copied().min().unwrap_or(f.at);
        let level = f.text("riskLevelDuringSignIn").to_owned();
        steps.push((detected, steps.len(), Step::Raise { level, events: f.events() }));
        let Some(at) = f.settled else { continue };
        let admin = Some(security_admin);
        let settle = match f.text("riskState") {
            "remediated" => Step::Settle {
                state: "remediated",
                level: "none",
                detail: "userPassedMFADrivenByRiskBasedPolicy",
                by: Some(user),
            },
            "dismissed" => {
                Step::Settle { state: "dismissed", level: "none", detail: "adminDismissedAllRiskForUser", by: admin }
            }
            "confirmedSafe" => {
                Step::Settle { state: "remediated", level: "none", detail: "adminConfirmedSigninSafe", by: admin }
            }
            _ => Step::Settle { state: "atRisk", level: "high", detail: "adminConfirmedSigninCompromised", by: admin },
        };
        let compromised = matches!(settle, Step::Settle { state: "atRisk", .. });
        steps.push((at, steps.len(), settle));
        if compromised && f.rng.chance(0.65) {
            // The Global Administrator (the tenant's first user) resets the password.
            let reset = (at + i64::from(f.rng.between(10, 20 * 60)) * MINUTE).min(end);
            resets.push(PasswordReset { tenant, at: reset, user, admin: 0 });
            let step = Step::Settle {
                state: "remediated",
                level: "none",
                detail: "adminGeneratedTemporaryPassword",
                by: Some(0),
            };
            steps.push((reset, steps.len(), step));
        }
    }
    steps.sort_by_key(|(at, seq, _)| (*at, *seq));
    steps.into_iter().map(|(at, _, s)| (at, s)).collect()
}

fn level_rank(level: &str) -> u8 {
    match level {
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

/// Replays the steps into history items and the current state.
fn risky_user(
    tenant: &DemoTenant,
    people: &[Person],
    person: &Person,
    steps: Vec<(i64, Step)>,
    seed: u64,
) -> DemoRiskyUser {
    let user = &person.user;
    let (mut state, mut level) = ("none", "none".to_owned());
    let mut history = Vec::with_capacity(steps.len());
    for (n, (at, step)) in steps.into_iter().enumerate() {
        let (initiated_by, events, detail) = match step {
            Step::Raise { level: raised, events } => {
                let open = matches!(state, "atRisk" | "confirmedCompromised");
                if !open || level_rank(&raised) > level_rank(&level) {
                    level = raised;
                }
                state = "atRisk";
                (Value::Null, events, "none")
            }
            Step::Settle { state: s, level: l, detail, by } => {
                state = s;
                level = l.to_owned();
                let actor = by.and_then(|i| people.get(i)).map(|p| p.user.object_id.clone());
                (actor.map_or(Value::Null, Value::from), Vec::new(), detail)
            }
        };
        let mut h = Map::with_capacity(12);
        h.insert("id".into(), stable_guid(&[hash_str(&user.object_id), seed, at as u64, n as u64]).into());
        h.insert("isDeleted".into(), false.into());
        h.insert("isProcessing".into(), false.into());
        h.insert("riskLevel".into(), level.clone().into());
        h.insert("riskState".into(), state.into());
        h.insert("riskDetail".into(), detail.into());
        h.insert("riskLastUpdatedDateTime".into(), format_ticks(at).into());
        h.insert("userDisplayName".into(), user.display_name.clone().into());
        h.insert("userPrincipalName".into(), user.user_principal_name.clone().into());
        h.insert("userId".into(), user.object_id.clone().into());
        h.insert("initiatedBy".into(), initiated_by);
        h.insert("activity".into(), json!({"riskEventTypes": events, "detail": detail}));
        history.push(h);
    }
    let last = history.last().cloned().unwrap_or_default();
    let mut current = Map::with_capacity(9);
    current.insert("id".into(), user.object_id.clone().into());
    for key in ["riskLastUpdatedDateTime", "isProcessing", "isDeleted", "riskDetail", "riskLevel", "riskState"] {
        current.insert(key.into(), last.get(key).cloned().unwrap_or(Value::Null));
    }
    current.insert("userDisplayName".into(), user.display_name.clone().into());
    current.insert("userPrincipalName".into(), user.user_principal_name.clone().into());
    DemoRiskyUser { tenant_id: tenant.id, current, history }
}

/// The window `[start, end]` of a config, in ticks.
pub(super) fn window(cfg: &DemoConfig) -> (i64, i64) {
    let end = to_ticks(cfg.end);
    (end - i64::from(cfg.days.max(1)) * TICKS_PER_DAY, end)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::{HashMap, HashSet};

    use chrono::{TimeZone, Utc};

    use super::*;
    use domain::model::{risk_detection, risky_user};

    fn config(sign_ins: usize, seed: u64) -> DemoConfig {
        DemoConfig { sign_ins, days: 30, seed, end: Utc.with_ymd_and_hms(2024, 6, 14, 17, 23, 11).unwrap() }
    }

    fn text<'a>(d: &'a Map<String, Value>, key: &str) -> &'a str {
        d.get(key).and_then(Value::as_str).unwrap_or_default()
    }

    fn ticks(d: &Map<String, Value>, key: &str) -> i64 {
        parse_ticks(text(d, key)).unwrap()
    }

    #[test]
    fn the_same_config_gives_the_same_data_and_another_seed_other_data() {
        let a = identity_protection(&config(6_000, 1));
        assert_eq!(a, identity_protection(&config(6_000, 1)));
        assert_ne!(a.risk_detections, identity_protection(&config(6_000, 2)).risk_detections);
        assert_eq!(risk_detections(&config(6_000, 1)), a.risk_detections);
        assert_eq!(risky_users(&config(6_000, 1)), a.risky_users);
    }

    #[test]
    fn every_document_validates_with_only_v1_properties() {
        let ip = identity_protection(&config(15_000, 3));
        assert!(!ip.risk_detections.is_empty() && !ip.risky_users.is_empty());
        for r in &ip.risk_detections {
            risk_detection::parse(&r.document).unwrap_or_else(|e| panic!("{e}: {:?}", r.document));
            assert!(r.document.keys().all(|k| risk_detection::V1_PROPERTIES.contains(&k.as_str())));
            assert_eq!(r.document.len(), risk_detection::V1_PROPERTIES.len());
        }
        for u in &ip.risky_users {
            risky_user::parse(&u.current).unwrap_or_else(|e| panic!("{e}: {:?}", u.current));
            assert_eq!(u.current.len(), risky_user::V1_PROPERTIES.len());
            for h in &u.history {
                risky_user::parse_history_item(h).unwrap_or_else(|e| panic!("{e}: {h:?}"));
                assert_eq!(h.len(), risky_user::HISTORY_V1_PROPERTIES.len());
            }
        }
    }

    #[test]
    fn detections_are_tied_to_the_risky_sign_ins() {
        let cfg = config(20_000, 5);
        let (start, end) = window(&cfg);
        let risky: HashMap<String, (&'static str, Map<String, Value>)> = sign_ins(&cfg)
            .filter(|s| s.document["riskState"] != "none" && s.document["userId"] != UNKNOWN_USER_ID)
            .map(|s| (s.document["id"].as_str().unwrap().to_owned(), (s.tenant_id, s.document)))
            .collect();
        let ip = identity_protection(&cfg);
        let mut per_sign_in: HashMap<&str, usize> = HashMap::new();
        let mut leaked = 0;
        for r in &ip.risk_detections {
            let d = &r.document;
            assert!(text(d, "id").len() == 64 && text(d, "id").bytes().all(|b| b.is_ascii_hexdigit()));
            let (activity, detected, updated) =
                (ticks(d, "activityDateTime"), ticks(d, "detectedDateTime"), ticks(d, "lastUpdatedDateTime"));
            assert!(start <= activity && activity <= detected && detected <= updated && updated <= end, "{d:?}");
            if text(d, "activity") == "user" {
                leaked += 1;
                assert_eq!(text(d, "riskEventType"), "leakedCredentials");
                assert!(d["requestId"].is_null() && d["ipAddress"].is_null() && d["location"].is_null());
                continue;
            }
            let (tenant, s) = &risky[text(d, "requestId")];
            *per_sign_in.entry(text(d, "requestId")).or_default() += 1;
            assert_eq!(r.tenant_id, *tenant);
            for (key, from) in [
                ("correlationId", "correlationId"),
                ("userId", "userId"),
                ("userPrincipalName", "userPrincipalName"),
                ("ipAddress", "ipAddress"),
                ("location", "location"),
                ("riskState", "riskState"),
                ("riskDetail", "riskDetail"),
                ("riskLevel", "riskLevelDuringSignIn"),
                ("activityDateTime", "createdDateTime"),
            ] {
                assert_eq!(d[key], s[from], "{key}");
            }
            assert!(s["riskEventTypes_v2"].as_array().unwrap().contains(&d["riskEventType"]));
            let realtime = text(d, "detectionTimingType") == "realtime";
            // Real-time detections are found at the sign-in; offline ones later, but never
            // after the end of the window (a sign-in near the end is found at the end).
            if realtime {
                assert_eq!(detected, activity, "{d:?}");
            } else {
                assert!(detected > activity || detected == end, "{d:?}");
            }
            let info: Value = serde_json::from_str(text(d, "additionalInfo")).unwrap();
            assert_eq!(info[0]["Value"], s["userAgent"]);
        }
        // Every risky sign-in of a real user has a detection per event (leaked credentials aside).
        for (id, (_, s)) in &risky {
            let events = s["riskEventTypes_v2"].as_array().unwrap();
            let linked = events.iter().filter(|e| *e != "leakedCredentials").count();
            assert_eq!(per_sign_in.get(id.as_str()).copied().unwrap_or(0), linked, "{id}");
        }
        assert!(leaked > 0);
        let ids: HashSet<&str> = ip.risk_detections.iter().map(|r| text(&r.document, "id")).collect();
        assert_eq!(ids.len(), ip.risk_detections.len());
    }

    #[test]
    fn histories_are_append_only_and_end_in_the_current_state() {
        let ip = identity_protection(&config(20_000, 7));
        let mut seen = HashSet::new();
        for u in &ip.risky_users {
            assert!(seen.insert((u.tenant_id, text(&u.current, "id").to_owned())), "one riskyUser per user");
            let times: Vec<i64> = u.history.iter().map(|h| ticks(h, "riskLastUpdatedDateTime")).collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
            let first = &u.history[0];
            assert_eq!(first["riskState"], "atRisk", "a history starts with a detection");
            assert!(first["initiatedBy"].is_null());
            let last = u.history.last().unwrap();
            for key in
                ["riskState", "riskLevel", "riskDetail", "riskLastUpdatedDateTime", "userPrincipalName", "isDeleted"]
            {
                assert_eq!(u.current[key], last[key], "{key}");
            }
            assert_eq!(u.current["id"], last["userId"]);
            for h in &u.history {
                assert_eq!(h["userId"], u.current["id"]);
                assert!(seen.insert((u.tenant_id, text(h, "id").to_owned())), "history ids are unique");
                let none = h["riskLevel"] == "none";
                assert_eq!(none, matches!(text(h, "riskState"), "remediated" | "dismissed"), "{h:?}");
                assert_eq!(h["activity"]["detail"], h["riskDetail"]);
            }
        }
    }

    #[test]
    fn risky_users_come_in_plausible_proportions() {
        let ip = identity_protection(&config(20_000, 11));
        let mut states: HashMap<&str, usize> = HashMap::new();
        for u in &ip.risky_users {
            *states.entry(text(&u.current, "riskState")).or_default() += 1;
        }
        for state in ["atRisk", "remediated", "dismissed"] {
            assert!(states.get(state).copied().unwrap_or(0) > 0, "{states:?}");
        }
        for t in &TENANTS {
            let users = crate::users(t).len();
            let risky = ip.risky_users.iter().filter(|u| u.tenant_id == t.id).count();
            assert!(risky > 0 && risky < users, "{}: {risky} of {users}", t.display_name);
        }
        // Administrators act: dismissals, confirmations and password resets name them.
        let admins: HashSet<String> =
            TENANTS.iter().flat_map(crate::users).filter(|u| u.admin_role.is_some()).map(|u| u.object_id).collect();
        let by_admin = ip
            .risky_users
            .iter()
            .flat_map(|u| &u.history)
            .filter(|h| h["initiatedBy"].as_str().is_some_and(|a| admins.contains(a)))
            .count();
        assert!(by_admin > 0);
        let resets = analyse(&config(20_000, 11)).password_resets;
        assert!(resets.iter().all(|r| r.admin == 0));
        let kinds: HashSet<&str> = ip.risk_detections.iter().map(|r| text(&r.document, "riskEventType")).collect();
        for k in KINDS {
            assert!(kinds.contains(k.event), "{} never detected", k.event);
        }
    }
}
