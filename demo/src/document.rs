//! One sign-in document: who, with which app and device, from where, how it ended, and what
//! Conditional Access and Identity Protection made of it, kept consistent with each other and
//! written in the property order of Graph's own example (`docs/graph-notes.md` §1.6).

use serde_json::{Map, Value};

use super::DemoTenant;
use super::catalog::{
    self, APPS, CUSTOM_APP_WEIGHT, Clients, EXCHANGE_APP, Failure, GRAPH, PolicyState, Resource, Rule, SPRAY_CLIENTS,
    Stage, TenantProfile,
};
use super::conditional_access;
use super::events::{self, Timeline};
use super::people::{self, Device, Person};
use super::regions::{ABROAD, City, TRAVEL_CITIES};
use super::risk;
use super::rng::{Rng, guid_from, hash_str, pick, stable_guid, weighted};
use super::schedule::local_hour_and_weekday;
use domain::time::format_ticks;

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
    /// Sub-objects that repeat from document to document, built once and cloned (cloning a map
    /// copies its index instead of hashing every key again).
    home_locations: Vec<Value>,
    abroad_locations: Vec<Value>,
    /// Per policy, its `appliedConditionalAccessPolicy` object for each possible result.
    policy_objects: Vec<Vec<Value>>,
    success: Value,
    /// The application being rolled out (the tenant's last own application) and when.
    rollout_app: Option<usize>,
    timeline: Timeline,
}

impl TenantState {
    /// The tenant's state for a window that ends at `end` (ticks).
    pub(super) fn new(tenant: DemoTenant, end: i64) -> Self {
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
        let mut user_app_weights: Vec<(usize, u32)> =
            APPS.iter().enumerate().map(|(i, a)| (i, a.user_weight)).collect();
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
        // The new application is chosen by the rollout, not by the everyday weights.
        let rollout_app = profile.custom_apps.last().map(|_| apps.len() - 1);
        for weights in [&mut user_app_weights, &mut admin_app_weights] {
            weights.retain(|(i, _)| Some(*i) != rollout_app);
        }
        let blocks_legacy =
            profile.policies.iter().any(|p| p.rule == Rule::BlockLegacyAuthentication && p.state == PolicyState::On);
        let policy_objects = conditional_access::policy_objects(profile);
        Self {
            tenant,
            profile,
            people,
            cumulative_activity,
            apps,
            user_app_weights,
            admin_app_weights,
            blocks_legacy,
            home_locations: profile.region.cities.iter().map(|(c, _)| location(c)).collect(),
            abroad_locations: ABROAD.iter().map(location).collect(),
            policy_objects,
            success: status(None, "", ""),
            rollout_app,
            timeline: Timeline::new(end, profile.region.utc_offset_hours),
        }
    }

    /// Whether `app` is the application being rolled out, in its first days.
    fn is_launching(&self, app: &TenantApp, ticks: i64) -> bool {
        self.timeline.launching(ticks)
            && self.rollout_app.and_then(|i| self.apps.get(i)).is_some_and(|a| a.id == app.id)
    }

    /// Someone, in proportion to their activity; `None` only when the tenant has no people.
    fn pick_person(&self, rng: &mut Rng) -> Option<&Person> {
        let total = self.cumulative_activity.last().copied().unwrap_or(0.0);
        let roll = rng.unit() * total;
        let i = self.cumulative_activity.partition_point(|&c| c <= roll);
        self.people.get(i).or(self.people.last())
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

/// Where a sign-in came from.
struct Origin<'a> {
    location: &'a Value,
    ip: String,
}

/// A nonexistent account a password spray guesses at.
const GUESSED_ACCOUNTS: [&str; 5] = ["admin", "info", "test", "support", "administrator"];
/// What Entra ID logs as the user id of an account that does not exist.
const UNKNOWN_USER_ID: &str = "00000000-0000-0000-0000-000000000000";

/// Builds the document of one sign-in of `state`'s tenant at `ticks`; `None` only for a tenant
/// without people or apps, which the catalog does not have.
#[allow(clippy::too_many_lines)]
pub(super) fn sign_in(state: &TenantState, ticks: i64, rng: &mut Rng) -> Option<Map<String, Value>> {
    let profile = state.profile;
    let region = profile.region;
    let id = {
        let (a, b) = (rng.next_u64(), rng.next_u64());
        // Entra request ids end in `00` (`…ff5a759b0100` in Graph's example).
        guid_from(a, b & !0xFF)
    };
    let correlation_id = rng.guid();
    let spray = rng.chance(0.01);
    let person = if spray { rng.choose(&state.people) } else { state.pick_person(rng) }?;
    let is_admin = person.user.admin_role.is_some();

    // The client and app.
    let exchange = state.apps.get(EXCHANGE_APP);
    let (client, app) = if spray {
        (Client::Legacy(weighted!(rng, &SPRAY_CLIENTS)), exchange?)
    } else if let Some(protocol) = person.legacy_client.filter(|_| rng.chance(0.22)) {
        (Client::Legacy(protocol), exchange?)
    } else if rng.chance(0.002) {
        (Client::Legacy("Other clients"), exchange?)
    } else {
        let weights = if is_admin { &state.admin_app_weights } else { &state.user_app_weights };
        let rolled_out = state.rollout_app.filter(|_| {
            let share = state.timeline.rollout_share(ticks);
            share > 0.0 && rng.chance(share)
        });
        let app = rolled_out.or_else(|| rng.choose_weighted(weights)).and_then(|i| state.apps.get(i))?;
        let c = app.clients;
        let mut client =
            weighted!(rng, &[(Client::Browser, c.browser), (Client::Desktop, c.desktop), (Client::Mobile, c.mobile)]);
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
        // An app without resources of its own signs people in to itself.
        rng.choose(&app.resources).map_or((app.id.as_str(), app.name.as_str()), |r| (r.id, r.name))
    };

    // Identity Protection.
    let risk = if spray {
        rng.chance(0.15).then(|| risk::spray_risk(rng))
    } else {
        rng.chance(0.012).then(|| risk::risk(rng))
    };

    // Where from.
    let (local_hour, weekday) = local_hour_and_weekday(ticks, region.utc_offset_hours);
    let office_hours = weekday < 5 && (8..18).contains(&local_hour);
    let home = state.home_locations.get(person.home_city)?;
    // `office` is 0 or 1, and 1 only where there are two offices.
    let office = profile.offices.get(person.office).or(profile.offices.last());
    let origin = if spray || risk.as_ref().is_some_and(|r| r.foreign) {
        foreign(state, rng.below(ABROAD.len() as u64) as usize, rng)?
    } else if rng.chance(0.012) {
        foreign(state, rng.below(TRAVEL_CITIES as u64) as usize, rng)?
    } else if device.is_phone() && !legacy {
        let ip = if rng.chance(0.65) {
            let [a, b] = region.mobile_v6;
            ipv6([a, b, rng.below(65_536) as u16, rng.below(65_536) as u16], rng)
        } else {
            let [a, b] = region.mobile_v4;
            format!("{a}.{b}.{}.{}", rng.below(256), rng.between(1, 254))
        };
        Origin { location: home, ip }
    } else if let Some(office) = office.filter(|_| office_hours && !person.remote && rng.chance(0.8)) {
        let [a, b, c] = office.egress;
        let location = state.home_locations.get(office.city).unwrap_or(home);
        Origin { location, ip: format!("{a}.{b}.{c}.{}", 30 + rng.below(8)) }
    } else {
        let ip = match person.home_v6 {
            Some(prefix) if rng.chance(0.6) => ipv6(prefix, rng),
            _ => {
                let [a, b, c, d] = person.home_v4;
                format!("{a}.{b}.{c}.{d}")
            }
        };
        Origin { location: home, ip }
    };

    // Who: a spray sometimes guesses an account that does not exist.
    let guessed =
        (spray && rng.chance(0.1)).then(|| format!("{}@{}", pick!(rng, &GUESSED_ACCOUNTS), state.tenant.domain));

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
    } else if interactive && state.timeline.in_spike(ticks) && rng.chance(events::SPIKE_FAILURE_RATE) {
        // The morning the MFA service failed.
        Some(&catalog::MFA_FAILED)
    } else if app.custom && rng.chance(if state.is_launching(app, ticks) { events::LAUNCH_FAILURE_RATE } else { 0.04 })
    {
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
    // Only a sign-in frequency control on an unmanaged browser session can expire a session.
    let failure = failure.filter(|f| {
        f.stage != Stage::SessionExpired
            || (unmanaged_browser && conditional_access::has_rule(profile, Rule::SignInFrequencyOnUnmanagedDevices))
    });

    // Conditional Access.
    let facts = conditional_access::Facts { is_admin, legacy, unmanaged_browser, device, resource_id };
    let (ca_status, policies) = conditional_access::evaluate(profile, &state.policy_objects, &facts, failure);

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
    let status = match failure {
        None => state.success.clone(),
        Some(f) => status(Some(f), &app.id, state.tenant.domain),
    };
    doc.insert("status".into(), status);
    doc.insert("deviceDetail".into(), device_detail(device, client));
    doc.insert("location".into(), origin.location.clone());
    doc.insert("appliedConditionalAccessPolicies".into(), Value::Array(policies));
    doc.insert("authenticationAppDeviceDetails".into(), Value::Null);
    doc.insert("homeTenantId".into(), state.tenant.id.into());
    doc.insert("resourceTenantId".into(), state.tenant.id.into());
    doc.insert("servicePrincipalId".into(), Value::Null);
    doc.insert("servicePrincipalName".into(), Value::Null);
    doc.insert("userAgent".into(), user_agent(device, client).into());
    Some(doc)
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

/// A sign-in from `ABROAD[city]`; `None` when there is no such city.
fn foreign<'a>(state: &'a TenantState, city: usize, rng: &mut Rng) -> Option<Origin<'a>> {
    let (place, location) = ABROAD.iter().zip(&state.abroad_locations).nth(city)?;
    let [a, b] = place.ip_prefix;
    Some(Origin { location, ip: format!("{a}.{b}.{}.{}", rng.below(256), rng.between(1, 254)) })
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

/// `status`; `app_id` and `directory` fill in the reasons that name them.
fn status(failure: Option<&Failure>, app_id: &str, directory: &str) -> Value {
    let mut s = Map::with_capacity(3);
    match failure {
        None => {
            s.insert("errorCode".into(), 0.into());
            s.insert("failureReason".into(), Value::Null);
            s.insert("additionalDetails".into(), Value::Null);
        }
        Some(f) => {
            let reason = f.reason.replace("{app}", app_id).replace("{directory}", directory);
            s.insert("errorCode".into(), f.code.into());
            s.insert("failureReason".into(), reason.into());
            s.insert("additionalDetails".into(), f.details.map_or(Value::Null, Value::from));
        }
    }
    Value::Object(s)
}

fn device_detail(device: &Device, client: Client) -> Value {
    let os = match client {
        Client::Browser => return device.web_detail.clone(),
        Client::Desktop | Client::Mobile => return device.app_detail.clone(),
        Client::Legacy("Exchange ActiveSync") => device.os,
        Client::Legacy("MAPI Over HTTP") => "Windows 10",
        Client::Legacy(_) => "",
    };
    // Legacy protocols tell Entra ID next to nothing about the device.
    let mut d = Map::with_capacity(7);
    d.insert("deviceId".into(), "".into());
    d.insert("displayName".into(), Value::Null);
    d.insert("operatingSystem".into(), os.into());
    d.insert("browser".into(), "".into());
    d.insert("isCompliant".into(), Value::Null);
    d.insert("isManaged".into(), Value::Null);
    d.insert("trustType".into(), Value::Null);
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
