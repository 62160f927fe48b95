//! One sign-in document: who, with which app and device, from where, how it ended, and what
//! Conditional Access and Identity Protection made of it, kept consistent with each other and
//! written in the property order of Graph's own example (`graph-reference.md` §1.6).

use serde_json::{Map, Value};

use super::DemoTenant;
use super::catalog::{
    self, ABROAD, APPS, CUSTOM_APP_WEIGHT, City, Clients, EXCHANGE_APP, Failure, GRAPH, PolicyState, RISK_EVENTS,
    RISK_LEVELS, RISK_OUTCOMES, Resource, Rule, SPRAY_CLIENTS, Stage, TRAVEL_CITIES, TenantProfile,
};
use super::people::{self, Device, Person};
use super::rng::{Rng, guid_from, hash_str, stable_guid};
use super::schedule::local_hour_and_weekday;
use crate::time::format_ticks;

/// An app as this tenant sees it: Microsoft's, or one of the tenant's own registrations.
#[derive(Debug)]
struct TenantApp {
    id: String,
    name: String,
    clients: Clients,
    resources: Vec<Resource>,
    /// The tenant's own app is its own resource when it signs people in to itself.
    own_resource: bool,
    non_interactive: f64,
    custom: bool,
    azure_cli: bool,
}

/// Everything fixed about one tenant while documents are generated.
#[derive(Debug)]
pub(super) struct TenantState {
    pub tenant: DemoTenant,
    profile: &'static TenantProfile,
    people: Vec<Person>,
    /// Cumulative activity, for choosing who signs in.
    cumulative_activity: Vec<f64>,
    apps: Vec<TenantApp>,
    user_app_weights: Vec<(usize, u32)>,
    admin_app_weights: Vec<(usize, u32)>,
    blocks_legacy: bool,
}

impl TenantState {
    pub(super) fn new(tenant: DemoTenant) -> Self {
        let profile = people::profile_of(&tenant);
        let people = people::people(&tenant);
        let mut total = 0.0;
        let cumulative_activity = people
            .iter()
            .map(|p| {
                total += p.activity;
                total
            })
            .collect();
        let mut apps: Vec<TenantApp> = APPS
            .iter()
            .map(|a| TenantApp {
                id: a.id.to_owned(),
                name: a.name.to_owned(),
                clients: a.clients,
                resources: a.resources.to_vec(),
                own_resource: false,
                non_interactive: a.non_interactive,
                custom: false,
                azure_cli: a.id == "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            })
            .collect();
        let mut user_app_weights: Vec<(usize, u32)> = APPS.iter().enumerate().map(|(i, a)| (i, a.user_weight)).collect();
        let mut admin_app_weights: Vec<(usize, u32)> =
            APPS.iter().enumerate().map(|(i, a)| (i, a.admin_weight)).collect();
        let tenant_hash = hash_str(tenant.id);
        for name in profile.custom_apps {
            user_app_weights.push((apps.len(), CUSTOM_APP_WEIGHT.0));
            admin_app_weights.push((apps.len(), CUSTOM_APP_WEIGHT.1));
            apps.push(TenantApp {
                id: stable_guid(&[tenant_hash, hash_str(name)]),
                name: (*name).to_owned(),
                clients: Clients { browser: 1, desktop: 0, mobile: 0 },
                resources: vec![GRAPH],
                own_resource: true,
                non_interactive: 0.0,
                custom: true,
                azure_cli: false,
            });
        }
        let blocks_legacy = profile
            .policies
            .iter()
            .any(|p| p.rule == Rule::BlockLegacyAuthentication && p.state == PolicyState::On);
        Self {
            tenant,
            profile,
            people,
            cumulative_activity,
            apps,
            user_app_weights,
            admin_app_weights,
            blocks_legacy,
        }
    }

    fn pick_person(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative_activity.last().copied().unwrap_or(0.0);
        let roll = rng.unit() * total;
        self.cumulative_activity.partition_point(|&c| c <= roll).min(self.people.len() - 1)
    }
}

/// How the client talked to Entra ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Browser,
    Desktop,
    Mobile,
    Legacy(&'static str),
}

/// An Identity Protection finding on a sign-in.
#[derive(Debug)]
struct Risk {
    level: &'static str,
    state: &'static str,
    detail: &'static str,
    events: Vec<(&'static str, &'static str)>,
    foreign: bool,
}

/// Where a sign-in came from.
struct Origin<'a> {
    city: &'a City,
    ip: String,
}

/// A nonexistent account a password spray guesses at.
const GUESSED_ACCOUNTS: [&str; 5] = ["admin", "info", "test", "support", "administrator"];
/// What Entra ID logs as the user id of an account that does not exist.
const UNKNOWN_USER_ID: &str = "00000000-0000-0000-0000-000000000000";

/// Builds the document of one sign-in of `state`'s tenant at `ticks`.
#[allow(clippy::too_many_lines)]
pub(super) fn sign_in(state: &TenantState, ticks: i64, rng: &mut Rng) -> Map<String, Value> {
    let profile = state.profile;
    let region = profile.region;
    let id = {
        let (a, b) = (rng.next_u64(), rng.next_u64());
        // Entra request ids end in `00` (`…ff5a759b0100` in Graph's example).
        guid_from(a, b & !0xFF)
    };
    let correlation_id = rng.guid();
    let spray = rng.chance(0.01);
    let person = &state.people[if spray { rng.below(state.people.len() as u64) as usize } else { state.pick_person(rng) }];
    let is_admin = person.user.admin_role.is_some();

    // The client and app.
    let (client, app) = if spray {
        (Client::Legacy(*rng.weighted(&SPRAY_CLIENTS)), &state.apps[EXCHANGE_APP])
    } else if let Some(protocol) = person.legacy_client.filter(|_| rng.chance(0.22)) {
        (Client::Legacy(protocol), &state.apps[EXCHANGE_APP])
    } else if rng.chance(0.002) {
        (Client::Legacy("Other clients"), &state.apps[EXCHANGE_APP])
    } else {
        let weights = if is_admin { &state.admin_app_weights } else { &state.user_app_weights };
        let app = &state.apps[*rng.weighted(weights)];
        let c = app.clients;
        let mut client = *rng.weighted(&[(Client::Browser, c.browser), (Client::Desktop, c.desktop), (Client::Mobile, c.mobile)]);
        if client == Client::Desktop && person.computer.os == "Linux" && !app.azure_cli {
            client = Client::Browser;
        }
        (client, app)
    };
    let legacy = matches!(client, Client::Legacy(_));
    let device: &Device = match client {
        Client::Mobile | Client::Legacy("Exchange ActiveSync") => &person.phone,
        Client::Browser if rng.chance(person.mobile_share * 0.5) => &person.phone,
        _ => &person.computer,
    };
    let interactive = legacy || !rng.chance(app.non_interactive);
    let (resource_id, resource_name) = if app.own_resource && rng.chance(0.6) {
        (app.id.as_str(), app.name.as_str())
    } else {
        let r = rng.pick(&app.resources);
        (r.id, r.name)
    };

    // Identity Protection.
    let risk = if spray { rng.chance(0.15).then(|| spray_risk(rng)) } else { rng.chance(0.012).then(|| risk(rng)) };

    // Where from.
    let (local_hour, weekday) = local_hour_and_weekday(ticks, region.utc_offset_hours);
    let office_hours = weekday < 5 && (8..18).contains(&local_hour);
    let home = &region.cities[person.home_city].0;
    let origin = if spray || risk.as_ref().is_some_and(|r| r.foreign) {
        foreign(rng.pick(&ABROAD), rng)
    } else if rng.chance(0.012) {
        foreign(rng.pick(&ABROAD[..TRAVEL_CITIES]), rng)
    } else if device.is_phone() && !legacy {
        let ip = if rng.chance(0.65) {
            let [a, b] = region.mobile_v6;
            ipv6([a, b, rng.below(65_536) as u16, rng.below(65_536) as u16], rng)
        } else {
            let [a, b] = region.mobile_v4;
            format!("{a}.{b}.{}.{}", rng.below(256), rng.between(1, 254))
        };
        Origin { city: home, ip }
    } else if office_hours && !person.remote && rng.chance(0.8) {
        let office = &profile.offices[person.office.min(profile.offices.len() - 1)];
        let [a, b, c] = office.egress;
        Origin { city: &region.cities[office.city].0, ip: format!("{a}.{b}.{c}.{}", 30 + rng.below(8)) }
    } else {
        let ip = match person.home_v6 {
            Some(prefix) if rng.chance(0.6) => ipv6(prefix, rng),
            _ => {
                let [a, b, c, d] = person.home_v4;
                format!("{a}.{b}.{c}.{d}")
            }
        };
        Origin { city: home, ip }
    };

    // Who: a spray sometimes guesses an account that does not exist.
    let guessed = (spray && rng.chance(0.1)).then(|| format!("{}@{}", rng.pick(&GUESSED_ACCOUNTS), state.tenant.domain));

    // How it ended.
    let failure: Option<&'static Failure> = if guessed.is_some() {
        Some(&catalog::USER_NOT_FOUND)
    } else if spray {
        match rng.below(100) {
            0..82 => Some(&catalog::INVALID_PASSWORD),
            82..96 => Some(&catalog::ACCOUNT_LOCKED),
            _ => state.blocks_legacy.then_some(&catalog::BLOCKED_BY_CONDITIONAL_ACCESS),
        }
    } else if legacy {
        if rng.chance(0.09) {
            Some(&catalog::INVALID_PASSWORD)
        } else {
            state.blocks_legacy.then_some(&catalog::BLOCKED_BY_CONDITIONAL_ACCESS)
        }
    } else if let Some(r) = &risk {
        match (r.state, rng.below(100)) {
            ("remediated", _) => None,
            ("atRisk", 0..35) => Some(&catalog::INVALID_PASSWORD),
            ("atRisk", 35..60) => Some(&catalog::MFA_REQUIRED),
            ("atRisk", _) => None,
            (_, 0..25) => Some(&catalog::INVALID_PASSWORD),
            _ => None,
        }
    } else if app.custom && rng.chance(0.04) {
        Some(if rng.chance(0.75) { &catalog::NO_CONSENT } else { &catalog::APP_NOT_FOUND })
    } else if !interactive {
        match rng.below(1000) {
            0..30 => Some(&catalog::MFA_REQUIRED_NON_INTERACTIVE),
            30..45 => Some(&catalog::SILENT_SIGN_IN_FAILED),
            _ => None,
        }
    } else {
        modern_failure(rng)
    };
    let unmanaged_browser = client == Client::Browser && device.is_managed != Some(true);
    let failure = match failure {
        // Only a sign-in frequency control can expire a session.
        Some(f) if f.stage == Stage::SessionExpired && !has_rule(profile, Rule::SignInFrequencyOnUnmanagedDevices) => None,
        Some(f) if f.stage == Stage::SessionExpired && !unmanaged_browser => None,
        other => other,
    };

    // Conditional Access.
    let facts = Facts { is_admin, legacy, unmanaged_browser, device, resource_id };
    let (ca_status, policies) = conditional_access(profile, &facts, failure);

    // The document, in the order of Graph's example.
    let mut doc = Map::with_capacity(30);
    doc.insert("id".into(), id.into());
    doc.insert("createdDateTime".into(), format_ticks(ticks).into());
    match &guessed {
        Some(upn) => {
            doc.insert("userDisplayName".into(), Value::Null);
            doc.insert("userPrincipalName".into(), upn.clone().into());
            doc.insert("userId".into(), UNKNOWN_USER_ID.into());
        }
        None => {
            doc.insert("userDisplayName".into(), person.user.display_name.clone().into());
            doc.insert("userPrincipalName".into(), person.user.user_principal_name.clone().into());
            doc.insert("userId".into(), person.user.object_id.clone().into());
        }
    }
    doc.insert("appId".into(), app.id.clone().into());
    doc.insert("appDisplayName".into(), app.name.clone().into());
    doc.insert("ipAddress".into(), origin.ip.into());
    let client_app_used = match client {
        Client::Browser => "Browser",
        Client::Desktop | Client::Mobile => "Mobile Apps and Desktop clients",
        Client::Legacy(protocol) => protocol,
    };
    doc.insert("clientAppUsed".into(), client_app_used.into());
    doc.insert("correlationId".into(), correlation_id.into());
    doc.insert("conditionalAccessStatus".into(), ca_status.into());
    doc.insert("isInteractive".into(), interactive.into());
    let (detail, level, state_name) = risk.as_ref().map_or(("none", "none", "none"), |r| (r.detail, r.level, r.state));
    doc.insert("riskDetail".into(), detail.into());
    doc.insert("riskLevelAggregated".into(), level.into());
    doc.insert("riskLevelDuringSignIn".into(), level.into());
    doc.insert("riskState".into(), state_name.into());
    let events = risk.as_ref().map_or(&[][..], |r| r.events.as_slice());
    doc.insert("riskEventTypes".into(), events.iter().map(|e| Value::from(e.0)).collect());
    doc.insert("riskEventTypes_v2".into(), events.iter().map(|e| Value::from(e.1)).collect());
    doc.insert("resourceDisplayName".into(), resource_name.into());
    doc.insert("resourceId".into(), resource_id.into());
    doc.insert("status".into(), status(failure, app, &state.tenant));
    doc.insert("deviceDetail".into(), device_detail(device, client));
    doc.insert("location".into(), location(origin.city));
    doc.insert("appliedConditionalAccessPolicies".into(), Value::Array(policies));
    doc.insert("authenticationAppDeviceDetails".into(), Value::Null);
    doc.insert("homeTenantId".into(), state.tenant.id.into());
    doc.insert("resourceTenantId".into(), state.tenant.id.into());
    doc.insert("servicePrincipalId".into(), Value::Null);
    doc.insert("servicePrincipalName".into(), Value::Null);
    doc.insert("userAgent".into(), user_agent(device, client).into());
    doc
}

/// Failures of an ordinary interactive sign-in, per 10,000: about 8% fail, mostly on the
/// password and on multi-factor authentication.
fn modern_failure(rng: &mut Rng) -> Option<&'static Failure> {
    let roll = rng.below(10_000);
    let table: [(u64, &'static Failure); 11] = [
        (230, &catalog::INVALID_PASSWORD),
        (190, &catalog::MFA_REQUIRED),
        (110, &catalog::KEEP_ME_SIGNED_IN),
        (60, &catalog::SESSION_EXPIRED),
        (45, &catalog::MFA_REQUIRED_NON_INTERACTIVE),
        (40, &catalog::MFA_FAILED),
        (40, &catalog::NOT_AN_ERROR),
        (25, &catalog::SILENT_SIGN_IN_FAILED),
        (25, &catalog::PASSWORD_EXPIRED),
        (20, &catalog::ACCOUNT_LOCKED),
        (10, &catalog::ACCOUNT_DISABLED),
    ];
    let mut edge = 0;
    for (weight, failure) in table {
        edge += weight;
        if roll < edge {
            return Some(failure);
        }
    }
    None
}

fn risk(rng: &mut Rng) -> Risk {
    let (state, detail) = *rng.weighted(&RISK_OUTCOMES);
    let (v1, v2, _, foreign) = *pick_event(rng);
    let mut events = vec![(v1, v2)];
    if v1 == "anonymizedIPAddress" && rng.chance(0.3) {
        events.push(("unfamiliarFeatures", "unfamiliarFeatures"));
    }
    Risk { level: *rng.weighted(&RISK_LEVELS), state, detail, events, foreign }
}

fn spray_risk(rng: &mut Rng) -> Risk {
    let event = if rng.chance(0.6) { "maliciousIPAddress" } else { "unfamiliarFeatures" };
    Risk {
        level: *rng.weighted(&[("low", 40), ("medium", 45), ("high", 15)]),
        state: "atRisk",
        detail: "none",
        events: vec![(event, event)],
        foreign: true,
    }
}

fn pick_event(rng: &mut Rng) -> &'static (&'static str, &'static str, u32, bool) {
    let total: u64 = RISK_EVENTS.iter().map(|e| u64::from(e.2)).sum();
    let mut roll = rng.below(total);
    for e in &RISK_EVENTS {
        if roll < u64::from(e.2) {
            return e;
        }
        roll -= u64::from(e.2);
    }
    &RISK_EVENTS[0]
}

fn foreign<'a>(city: &'a City, rng: &mut Rng) -> Origin<'a> {
    let [a, b] = city.ip_prefix;
    Origin { city, ip: format!("{a}.{b}.{}.{}", rng.below(256), rng.between(1, 254)) }
}

/// An address in a /64: the prefix, then a privacy-extension interface id.
fn ipv6(prefix: [u16; 4], rng: &mut Rng) -> String {
    let iid = rng.next_u64();
    format!(
        "{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}",
        prefix[0],
        prefix[1],
        prefix[2],
        prefix[3],
        (iid >> 48) & 0xFFFF,
        (iid >> 32) & 0xFFFF,
        (iid >> 16) & 0xFFFF,
        iid & 0xFFFF
    )
}

fn has_rule(profile: &TenantProfile, rule: Rule) -> bool {
    profile.policies.iter().any(|p| p.rule == rule && p.state != PolicyState::Off)
}

/// What Conditional Access looks at.
struct Facts<'a> {
    is_admin: bool,
    legacy: bool,
    unmanaged_browser: bool,
    device: &'a Device,
    resource_id: &'a str,
}

/// `conditionalAccessStatus` and `appliedConditionalAccessPolicies`, consistent with each other
/// and with the failure: a policy failed exactly when the sign-in failed because of it.
fn conditional_access(profile: &TenantProfile, facts: &Facts<'_>, failure: Option<&Failure>) -> (&'static str, Vec<Value>) {
    let stage = failure.map(|f| f.stage);
    let evaluated = stage != Some(Stage::BeforeConditionalAccess);
    let mut any_success = false;
    let mut any_failure = false;
    let policies = profile
        .policies
        .iter()
        .map(|policy| {
            let applies = evaluated
                && match policy.rule {
                    Rule::MfaForAdmins => facts.is_admin && !facts.legacy,
                    Rule::MfaForAllUsers => !facts.legacy,
                    Rule::BlockLegacyAuthentication => facts.legacy,
                    Rule::CompliantDeviceForExchange => !facts.legacy && facts.resource_id == catalog::EXCHANGE.id,
                    Rule::CompliantOrJoinedDevice => !facts.legacy,
                    Rule::SignInFrequencyOnUnmanagedDevices => facts.unmanaged_browser,
                    Rule::GuestAccessToSharePoint => false,
                };
            let satisfied = match policy.rule {
                Rule::MfaForAdmins | Rule::MfaForAllUsers => stage != Some(Stage::Mfa),
                Rule::BlockLegacyAuthentication => false,
                Rule::CompliantDeviceForExchange => facts.device.is_compliant == Some(true),
                Rule::CompliantOrJoinedDevice => {
                    facts.device.is_compliant == Some(true) || facts.device.trust_type == Some("Azure AD joined")
                }
                Rule::SignInFrequencyOnUnmanagedDevices => stage != Some(Stage::SessionExpired),
                Rule::GuestAccessToSharePoint => true,
            };
            let result = match (policy.state, applies, satisfied) {
                (PolicyState::Off, _, _) => "notEnabled",
                (PolicyState::On, false, _) => "notApplied",
                (PolicyState::On, true, true) => {
                    any_success = true;
                    "success"
                }
                (PolicyState::On, true, false) => {
                    any_failure = true;
                    "failure"
                }
                (PolicyState::ReportOnly, false, _) => "reportOnlyNotApplied",
                (PolicyState::ReportOnly, true, true) => "reportOnlySuccess",
                (PolicyState::ReportOnly, true, false) => "reportOnlyFailure",
            };
            let enabled = policy.state != PolicyState::Off;
            let mut p = Map::with_capacity(5);
            p.insert("id".into(), policy.id.into());
            p.insert("displayName".into(), policy.name.into());
            let grant = if enabled { policy.grant } else { &[] };
            let session = if enabled { policy.session } else { &[] };
            p.insert("enforcedGrantControls".into(), grant.iter().map(|g| Value::from(*g)).collect());
            p.insert("enforcedSessionControls".into(), session.iter().map(|s| Value::from(*s)).collect());
            p.insert("result".into(), result.into());
            Value::Object(p)
        })
        .collect();
    let status = if any_failure {
        "failure"
    } else if any_success {
        "success"
    } else {
        "notApplied"
    };
    (status, policies)
}

fn status(failure: Option<&Failure>, app: &TenantApp, tenant: &DemoTenant) -> Value {
    let mut s = Map::with_capacity(3);
    match failure {
        None => {
            s.insert("errorCode".into(), 0.into());
            s.insert("failureReason".into(), Value::Null);
            s.insert("additionalDetails".into(), Value::Null);
        }
        Some(f) => {
            let reason = f.reason.replace("{app}", &app.id).replace("{directory}", tenant.domain);
            s.insert("errorCode".into(), f.code.into());
            s.insert("failureReason".into(), reason.into());
            s.insert("additionalDetails".into(), f.details.map_or(Value::Null, Value::from));
        }
    }
    Value::Object(s)
}

fn device_detail(device: &Device, client: Client) -> Value {
    let mut d = Map::with_capacity(7);
    let known = !matches!(client, Client::Legacy(_));
    let (browser, os) = match client {
        Client::Browser => (device.browser.as_str(), device.os),
        Client::Desktop | Client::Mobile => (device.app_browser.as_str(), device.os),
        Client::Legacy("Exchange ActiveSync") => ("", device.os),
        Client::Legacy("MAPI Over HTTP") => ("", "Windows 10"),
        Client::Legacy(_) => ("", ""),
    };
    if known {
        d.insert("deviceId".into(), device.device_id.clone().into());
        d.insert("displayName".into(), device.display_name.clone().map_or(Value::Null, Value::from));
    } else {
        d.insert("deviceId".into(), "".into());
        d.insert("displayName".into(), Value::Null);
    }
    d.insert("operatingSystem".into(), os.into());
    d.insert("browser".into(), browser.into());
    let flag = |b: Option<bool>| if known { b.map_or(Value::Null, Value::from) } else { Value::Null };
    d.insert("isCompliant".into(), flag(device.is_compliant));
    d.insert("isManaged".into(), flag(device.is_managed));
    d.insert("trustType".into(), if known { device.trust_type.map_or(Value::Null, Value::from) } else { Value::Null });
    Value::Object(d)
}

fn user_agent(device: &Device, client: Client) -> String {
    match client {
        Client::Browser => device.user_agent.clone(),
        Client::Desktop | Client::Mobile => device.app_user_agent.clone(),
        Client::Legacy("Exchange ActiveSync") if device.os == "Ios" => "Apple-iPhone15C2/2102.55".to_owned(),
        Client::Legacy("Exchange ActiveSync") => "Android-Mail/2024.03.17.617367470.Release".to_owned(),
        Client::Legacy("MAPI Over HTTP") => {
            "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.10417; Pro)".to_owned()
        }
        // Basic authentication relayed by Exchange Online (IMAP, POP, SMTP, sprays).
        Client::Legacy(_) => "BAV2ROPC".to_owned(),
    }
}

fn location(city: &City) -> Value {
    let mut geo = Map::with_capacity(3);
    geo.insert("altitude".into(), Value::Null);
    geo.insert("latitude".into(), f64::from(city.lat).into());
    geo.insert("longitude".into(), f64::from(city.lon).into());
    let mut l = Map::with_capacity(4);
    l.insert("city".into(), city.name.into());
    l.insert("state".into(), city.state.into());
    l.insert("countryOrRegion".into(), city.country.into());
    l.insert("geoCoordinates".into(), Value::Object(geo));
    Value::Object(l)
}
