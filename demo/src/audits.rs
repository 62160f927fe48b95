//! Directory audit demo data: what the demo tenants' administrators, users and apps did in the
//! directory during the sign-in window, as v1.0 `directoryAudit` documents. It covers user and
//! group management, app consent, role assignments, password changes and resets, security-info
//! registration and Conditional Access policy changes, by the same people as the sign-ins, from
//! the same office and home addresses, with the same browsers.
//!
//! Most events are background activity at a rate per user (or per tenant) and day, at office
//! hours in the tenant's time zone; their number depends on the window and the seed, not on the
//! number of sign-ins. Two kinds follow from other demo data: a password change minutes after a
//! sign-in failed on an expired password (50055), and the Global Administrator's password reset
//! of a user whose compromise was confirmed (`identity_protection`).
//!
//! Changes are replayed in time order, so they agree with each other: a job title changes from
//! what it last became, a member is added only to a group they are not in, a policy's old value is
//! its previous new value. Conditional Access changes only toggle the exclusion of an emergency
//! access account that never signs in, so no sign-in's policy results change. A Free tenant has no
//! Conditional Access and no self-service password reset (only self-service change).
//!
//! Ids follow the service's pattern, `Directory_<correlationId>_<5 characters>_<number>` for Core
//! Directory and `IPCGraph_...` for Conditional Access (both as seen in real logs); the `SSPR_` and
//! `AuthenticationMethods_` prefixes are modelled on them.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use super::catalog::{Policy, PolicyState, Rule, TenantProfile};
use super::identity_protection::{Analysis, analyse, window};
use super::people::{self, Person};
use super::rng::{Rng, hash_str, mix, pick, stable_guid};
use super::schedule::local_hour_and_weekday;
use super::{DemoConfig, DemoTenant, DemoUser, TENANTS};
use domain::ids::LicenseTier;
use domain::time::{TICKS_PER_DAY, TICKS_PER_SECOND, format_ticks, from_ticks, parse_ticks};

/// A generated document of any entity set (the shape of [`super::DemoSignIn`]) and its tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoRecord {
    pub tenant_id: &'static str,
    /// A v1.0 document, as Graph would return it.
    pub document: Map<String, Value>,
}

/// The directory audits that go with `sign_ins(cfg)`, oldest first (ties by `id`), with
/// `activityDateTime` in `[end - days, end]`. Deterministic for `cfg`.
#[must_use]
pub fn directory_audits(cfg: &DemoConfig) -> Vec<DemoRecord> {
    from_analysis(cfg, &analyse(cfg))
}

/// [`directory_audits`] from an analysis of the same config's sign-ins.
pub(super) fn from_analysis(cfg: &DemoConfig, analysis: &Analysis) -> Vec<DemoRecord> {
    let (start, end) = window(cfg);
    let mut all: Vec<(i64, String, DemoRecord)> = Vec::new();
    for (t, tenant) in TENANTS.iter().enumerate() {
        let mut ctx = Tenant::new(t, *tenant, cfg.seed, start, end);
        ctx.background();
        for (_, sign_in) in analysis.expired_passwords.iter().filter(|(i, _)| *i == t) {
            ctx.password_change(sign_in);
        }
        for reset in analysis.password_resets.iter().filter(|r| r.tenant == t) {
            ctx.admin_reset(reset.at, reset.user, reset.admin);
        }
        all.extend(ctx.out.into_iter().map(|(at, document)| {
            let id = document.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
            (at, id, DemoRecord { tenant_id: tenant.id, document })
        }));
    }
    all.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    all.into_iter().map(|(_, _, r)| r).collect()
}

/// What a tenant's directory holds besides its users: groups, departments, job titles, and names
/// for the groups people create.
struct Directory {
    groups: &'static [(&'static str, &'static str)],
    departments: &'static [&'static str],
    titles: &'static [&'static str],
    projects: &'static [&'static str],
}

static DIRECTORIES: [Directory; 3] = [
    Directory {
        groups: &[
            ("All Company", "unifiedGroups"),
            ("Sales and Marketing", "unifiedGroups"),
            ("Retail", "unifiedGroups"),
            ("Mark 8 Project Team", "unifiedGroups"),
            ("U.S. Sales", "unifiedGroups"),
            ("Digital Initiative Public Relations", "unifiedGroups"),
            ("Leadership", "unifiedGroups"),
            ("SG-License-M365-E5", "azureAD"),
            ("SG-Intune-Pilot-Users", "azureAD"),
            ("SG-SSPR-Enabled", "azureAD"),
        ],
        departments: &[
            "Sales & Marketing",
            "Retail",
            "Operations",
            "Engineering",
            "Finance",
            "Human Resources",
            "Legal",
        ],
        titles: &[
            "Marketing Assistant",
            "Sales Representative",
            "Retail Manager",
            "Product Manager",
            "Software Engineer",
            "Financial Analyst",
            "HR Manager",
            "Attorney",
            "IT Administrator",
        ],
        projects: &["Project Falcon", "Contoso Summit Planning", "Customer Advisory Board", "Wellbeing Committee"],
    },
    Directory {
        groups: &[
            ("Alle Mitarbeitenden", "unifiedGroups"),
            ("Vertrieb", "unifiedGroups"),
            ("Entwicklung", "unifiedGroups"),
            ("Marketing", "unifiedGroups"),
            ("Einkauf", "unifiedGroups"),
            ("Geschäftsleitung", "unifiedGroups"),
            ("SG-Lizenz-M365-E3", "azureAD"),
            ("SG-VPN-Benutzer", "azureAD"),
        ],
        departments: &["Vertrieb", "Entwicklung", "Marketing", "Einkauf", "Personal", "Finanzen", "IT"],
        titles: &[
            "Vertriebsmitarbeiter",
            "Softwareentwicklerin",
            "Projektleiter",
            "Einkäuferin",
            "Personalreferent",
            "Buchhalterin",
            "IT-Administrator",
            "Teamleiterin",
        ],
        projects: &["Projekt Nordlicht", "Messe 2026", "Betriebsausflug", "ERP-Einführung"],
    },
    Directory {
        groups: &[
            ("All Staff", "unifiedGroups"),
            ("Warehouse", "unifiedGroups"),
            ("Sales", "unifiedGroups"),
            ("Management", "unifiedGroups"),
            ("SG-Finance", "azureAD"),
            ("SG-Shared-Mailbox-Access", "azureAD"),
        ],
        departments: &["Warehouse", "Sales", "Finance", "Logistics", "Management"],
        titles: &[
            "Warehouse Associate",
            "Sales Representative",
            "Accountant",
            "Logistics Coordinator",
            "Operations Manager",
            "Store Manager",
        ],
        projects: &["Stocktake Crew", "New Store Fit-out", "Supplier Review"],
    },
];

/// Directory roles given for a few days to someone who holds none, with their template ids
/// (`docs/graph-notes.md` §9).
const TEMPORARY_ROLES: [(&str, &str); 4] = [
    ("Reports Reader", "4a5d8f65-41da-4de4-8968-e035b65339cf"),
    ("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451"),
    ("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1"),
    ("Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509"),
];

/// The roles a "Require MFA for admins" policy targets.
const ADMIN_ROLE_TEMPLATES: [&str; 5] = [
    "62e90394-69f5-4237-9190-012177145e10",
    "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
    "fe930be7-5e62-47db-91af-98c3a49a38b1",
];

const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";
const SHAREPOINT_APP_ID: &str = "00000003-0000-0ff1-ce00-000000000000";
/// Microsoft's multi-tenant tools that administrators consent to, with their real app ids.
const ADMIN_TOOLS: [(&str, &str, &str); 2] = [
    ("Graph Explorer", "de8bc8b5-d9f9-48b1-a8ad-b748da725064", "openid profile User.Read AuditLog.Read.All"),
    (
        "Microsoft Graph Command Line Tools",
        "14d82eec-204b-4c2f-b7e8-296a70dab67e",
        "openid profile offline_access User.Read IdentityRiskyUser.Read.All IdentityRiskEvent.Read.All",
    ),
];
const SECURITY_INFO: [&str; 3] = [
    "User registered Authenticator App with Notification and Code",
    "User registered Mobile Phone SMS",
    "User registered Software OATH token",
];

#[derive(Debug, Clone, Copy)]
enum Service {
    CoreDirectory,
    ConditionalAccess,
    PasswordManagement,
    AuthenticationMethods,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Self::CoreDirectory => "Core Directory",
            Self::ConditionalAccess => "Conditional Access",
            Self::PasswordManagement => "Self-service Password Management",
            Self::AuthenticationMethods => "Authentication Methods",
        }
    }

    /// The id's prefix and the number of digits of its last part.
    fn id_shape(self) -> (&'static str, u32) {
        match self {
            Self::CoreDirectory => ("Directory", 9),
            Self::ConditionalAccess => ("IPCGraph", 8),
            Self::PasswordManagement => ("SSPR", 9),
            Self::AuthenticationMethods => ("AuthenticationMethods", 9),
        }
    }
}

/// One audit event before it is written as a document.
struct Event {
    at: i64,
    service: Service,
    category: &'static str,
    activity: &'static str,
    operation: &'static str,
    failure: Option<&'static str>,
    reason: &'static str,
    correlation: String,
    initiator: Value,
    targets: Vec<Value>,
    details: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    UpdateUser,
    GroupMembership,
    NewGroup,
    Consent,
    RoleAssignment,
    PolicyUpdate,
    SelfServiceReset,
    AdminReset,
    SecurityInfo,
}

struct Group {
    id: String,
    name: String,
    kind: &'static str,
    members: BTreeSet<usize>,
}

/// A Conditional Access policy's state as the audit log has seen it.
struct PolicyLog {
    created: i64,
    modified: Option<i64>,
    excludes_emergency_account: bool,
}

/// One tenant's directory while its events are generated, in time order.
struct Tenant {
    tenant: DemoTenant,
    profile: &'static TenantProfile,
    directory: &'static Directory,
    people: Vec<Person>,
    by_id: HashMap<String, usize>,
    hash: u64,
    start: i64,
    end: i64,
    rng: Rng,
    groups: Vec<Group>,
    departments: Vec<usize>,
    titles: Vec<usize>,
    policies: Vec<PolicyLog>,
    /// Who manages Conditional Access and Identity Protection: the Security Administrator, or
    /// the Global Administrator (always the first user) where there is none.
    security_admin: usize,
    created_groups: usize,
    out: Vec<(i64, Map<String, Value>)>,
}

impl Tenant {
    fn new(index: usize, tenant: DemoTenant, seed: u64, start: i64, end: i64) -> Self {
        let profile = people::profile_of(&tenant);
        let [.., last] = &DIRECTORIES;
        let directory = DIRECTORIES.get(index).unwrap_or(last);
        let people = people::people(&tenant);
        let hash = hash_str(tenant.id);
        let by_id = people.iter().enumerate().map(|(i, p)| (p.user.object_id.clone(), i)).collect();
        let pick = |i: usize, salt: u64, n: usize| (mix(&[hash, i as u64, salt]) % n as u64) as usize;
        let departments = (0..people.len()).map(|i| pick(i, 0xDE9, directory.departments.len())).collect();
        let titles = (0..people.len()).map(|i| pick(i, 0x717, directory.titles.len())).collect();
        let groups = directory
            .groups
            .iter()
            .enumerate()
            .map(|(g, (name, kind))| Group {
                id: stable_guid(&[hash, hash_str(name), 0x6120]),
                name: (*name).to_owned(),
                kind,
                // The first group is everyone; the others about a quarter of the people each.
                members: (0..people.len())
                    .filter(|i| g == 0 || mix(&[hash, g as u64, *i as u64]).is_multiple_of(4))
                    .collect(),
            })
            .collect();
        let policies = profile
            .policies
            .iter()
            .map(|p| PolicyLog {
                created: start
                    - (60 + (hash_str(p.id) % 500) as i64) * TICKS_PER_DAY
                    - (hash_str(p.name) % 86_400) as i64 * TICKS_PER_SECOND,
                modified: None,
                excludes_emergency_account: false,
            })
            .collect();
        let security_admin =
            people.iter().position(|p| p.user.admin_role == Some("Security Administrator")).unwrap_or(0);
        Self {
            tenant,
            profile,
            directory,
            people,
            by_id,
            hash,
            start,
            end,
            rng: Rng::new(mix(&[seed, hash, 0xA0D1])),
            groups,
            departments,
            titles,
            policies,
            security_admin,
            created_groups: 0,
            out: Vec::new(),
        }
    }

    /// Background activity: how many of each kind the window gets, when, then each in time order.
    fn background(&mut self) {
        let days = (self.end - self.start) as f64 / TICKS_PER_DAY as f64;
        let users = self.people.len() as f64;
        let premium = self.tenant.tier != LicenseTier::Free;
        let has_policies = !self.profile.policies.is_empty();
        let plan = [
            (Kind::UpdateUser, 0.07 * users, true),
            (Kind::GroupMembership, 0.09 * users, true),
            (Kind::NewGroup, 0.15, true),
            (Kind::Consent, 0.4, true),
            (Kind::RoleAssignment, 0.12, true),
            (Kind::PolicyUpdate, if has_policies { 0.12 } else { 0.0 }, true),
            (Kind::SelfServiceReset, if premium { 0.004 * users } else { 0.0 }, false),
            (Kind::AdminReset, 0.002 * users, true),
            (Kind::SecurityInfo, 0.01 * users, false),
        ];
        let mut slots = Vec::new();
        for (kind, per_day, office) in plan {
            let expected = per_day * days;
            let n = expected.floor() as u64 + u64::from(self.rng.chance(expected.fract()));
            for _ in 0..n {
                slots.push((self.time(office), kind));
            }
        }
        slots.sort_by_key(|s| s.0);
        for (at, kind) in slots {
            match kind {
                Kind::UpdateUser => self.update_user(at),
                Kind::GroupMembership => self.group_membership(at),
                Kind::NewGroup => self.new_group(at),
                Kind::Consent => self.consent(at),
                Kind::RoleAssignment => self.role_assignment(at),
                Kind::PolicyUpdate => self.policy_update(at),
                Kind::SelfServiceReset => self.self_service_reset(at),
                Kind::AdminReset => {
                    let who = 1 + self.rng.below(self.people.len() as u64 - 1) as usize;
                    self.admin_reset(at, who, 0);
                }
                Kind::SecurityInfo => self.security_info(at),
            }
        }
    }

    /// A time in the window, mostly at office hours (or, for what people do themselves, during
    /// the waking day), in the tenant's time zone.
    fn time(&mut self, office: bool) -> i64 {
        let span = (self.end - self.start).max(1) as u64;
        let offset = self.profile.region.utc_offset_hours;
        for _ in 0..64 {
            let t = self.start + self.rng.below(span) as i64;
            let (hour, weekday) = local_hour_and_weekday(t, offset);
            let mut weight = match (office, hour) {
                (true, 8..=17) | (false, 7..=22) => 1.0,
                (true, 7 | 18 | 19) => 0.3,
                (true, _) => 0.03,
                (false, _) => 0.2,
            };
            if weekday >= 5 {
                weight *= if office { 0.08 } else { 0.5 };
            }
            if self.rng.unit() < weight {
                return t;
            }
        }
        self.start + self.rng.below(span) as i64
    }

    /// Where `who` works from at `at`: the office's egress address during office hours, else home.
    fn address(&mut self, who: usize, at: i64) -> String {
        let Some(&Person { remote, office, home_v4: home, .. }) = self.people.get(who) else { return String::new() };
        let (hour, weekday) = local_hour_and_weekday(at, self.profile.region.utc_offset_hours);
        // `office` is 0 or 1, and 1 only where there are two offices.
        let offices = self.profile.offices;
        let office = offices.get(office).or(offices.last());
        if let Some(office) =
            office.filter(|_| weekday < 5 && (8..18).contains(&hour) && !remote && self.rng.chance(0.8))
        {
            let [a, b, c] = office.egress;
            format!("{a}.{b}.{c}.{}", 30 + self.rng.below(8))
        } else {
            let [a, b, c, d] = home;
            format!("{a}.{b}.{c}.{d}")
        }
    }

    fn user_initiator(&mut self, who: usize, at: i64) -> Value {
        let ip = self.address(who, at);
        self.user_initiator_from(who, &ip)
    }

    fn user_initiator_from(&self, who: usize, ip: &str) -> Value {
        let u = self.user(who);
        json!({"user": {"id": u.map(|u| &u.object_id), "displayName": u.map(|u| &u.display_name),
            "userPrincipalName": u.map(|u| &u.user_principal_name), "ipAddress": ip}, "app": null})
    }

    /// The user of `who`, an index into the tenant's people (always in range: every index is drawn
    /// below `people.len()` or found in `people`).
    fn user(&self, who: usize) -> Option<&DemoUser> {
        self.people.get(who).map(|p| &p.user)
    }

    /// The browser `who` administers the directory with.
    fn user_agent(&self, who: usize) -> String {
        self.people.get(who).map(|p| p.computer.user_agent.clone()).unwrap_or_default()
    }

    fn user_target(&self, who: usize, props: Vec<Value>) -> Value {
        let u = self.user(who);
        json!({"id": u.map(|u| &u.object_id), "displayName": null, "type": "User",
            "userPrincipalName": u.map(|u| &u.user_principal_name), "groupType": null, "modifiedProperties": props})
    }

    /// The service principal (enterprise app) of `app_id` in this tenant.
    fn service_principal(&self, app_id: &str) -> String {
        stable_guid(&[self.hash, hash_str(app_id), 0x5E1F])
    }

    fn push(&mut self, e: Event) {
        let (prefix, digits) = e.service.id_shape();
        let mut id = format!("{prefix}_{}_", e.correlation);
        for _ in 0..5 {
            id.push(char::from(*pick!(self.rng, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")));
        }
        let low = 10_u64.pow(digits - 1);
        id.push_str(&format!("_{}", low + self.rng.below(9 * low)));
        let at = e.at.clamp(self.start, self.end);
        let mut d = Map::with_capacity(12);
        d.insert("id".into(), id.into());
        d.insert("category".into(), e.category.into());
        d.insert("correlationId".into(), e.correlation.into());
        d.insert("result".into(), if e.failure.is_some() { "failure" } else { "success" }.into());
        d.insert("resultReason".into(), e.failure.unwrap_or(e.reason).into());
        d.insert("activityDisplayName".into(), e.activity.into());
        d.insert("activityDateTime".into(), format_ticks(at).into());
        d.insert("loggedByService".into(), e.service.name().into());
        d.insert("operationType".into(), e.operation.into());
        d.insert("initiatedBy".into(), e.initiator);
        d.insert("targetResources".into(), Value::Array(e.targets));
        let details = e.details.into_iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
        d.insert("additionalDetails".into(), Value::Array(details));
        self.out.push((at, d));
    }

    /// An administrator, or the tenant's HR app, changes someone's job title or department.
    fn update_user(&mut self, at: i64) {
        let who = self.rng.below(self.people.len() as u64) as usize;
        let department = self.rng.chance(0.4);
        let (name, list, current) = if department {
            ("Department", self.directory.departments, &mut self.departments)
        } else {
            ("JobTitle", self.directory.titles, &mut self.titles)
        };
        let Some(slot) = current.get_mut(who) else { return };
        let old = *slot;
        let new = (old + 1 + self.rng.below(list.len() as u64 - 1) as usize) % list.len();
        *slot = new;
        // Both are indexes into `list`: `new` by the modulo, `old` because it was once a `new`.
        let (Some(old_name), Some(new_name)) = (list.get(old), list.get(new)) else { return };
        let props = vec![
            prop(name, Some(listed(old_name)), Some(listed(new_name))),
            prop("Included Updated Properties", None, Some(quoted(name))),
            prop("TargetId.UserType", None, Some(quoted("Member"))),
        ];
        let hr_app = self.profile.custom_apps.first().filter(|_| self.rng.chance(0.4));
        let (initiator, details) = match hr_app {
            Some(app) => {
                let app_id = stable_guid(&[self.hash, hash_str(app)]);
                let sp = self.service_principal(&app_id);
                let initiator = json!({"user": null, "app": {"appId": app_id, "displayName": app,
                    "servicePrincipalId": sp, "servicePrincipalName": null}});
                (initiator, Vec::new())
            }
            None => (self.user_initiator(0, at), vec![("User-Agent", self.user_agent(0))]),
        };
        let targets = vec![self.user_target(who, props)];
        let correlation = self.rng.guid();
        self.push(Event {
            at,
            service: Service::CoreDirectory,
            category: "UserManagement",
            activity: "Update user",
            operation: "Update",
            failure: None,
            reason: "",
            correlation,
            initiator,
            targets,
            details,
        });
    }

    /// The Global Administrator or a group's owner adds someone to a group or removes them.
    fn group_membership(&mut self, at: i64) {
        let g = self.rng.below(self.groups.len() as u64) as usize;
        let add = self.rng.chance(0.65);
        let Some(group) = self.groups.get(g) else { return };
        let candidates: Vec<usize> = (0..self.people.len()).filter(|i| group.members.contains(i) != add).collect();
        let Some(&who) = self.rng.choose(&candidates) else { return };
        let owner = group.members.iter().copied().find(|m| *m != who).filter(|_| self.rng.chance(0.5));
        let by = owner.unwrap_or(0);
        self.membership(at, g, who, add, by, None);
    }

    fn membership(&mut self, at: i64, g: usize, who: usize, add: bool, by: usize, correlation: Option<String>) {
        let Some(group) = self.groups.get_mut(g) else { return };
        if add {
            group.members.insert(who);
        } else {
            group.members.remove(&who);
        }
        let (id, name, kind) = (group.id.clone(), group.name.clone(), group.kind);
        let values = [("Group.ObjectID", quoted(&id)), ("Group.DisplayName", quoted(&name))];
        let props = values
            .into_iter()
            .map(|(k, v)| if add { prop(k, None, Some(v)) } else { prop(k, Some(v), None) })
            .collect();
        let targets = vec![self.user_target(who, props), target(&id, &name, "Group", Some(kind), Vec::new())];
        let initiator = self.user_initiator(by, at);
        let correlation = correlation.unwrap_or_else(|| self.rng.guid());
        self.push(Event {
            at,
            service: Service::CoreDirectory,
            category: "GroupManagement",
            activity: if add { "Add member to group" } else { "Remove member from group" },
            operation: if add { "Assign" } else { "Unassign" },
            failure: None,
            reason: "",
            correlation,
            initiator,
            targets,
            details: vec![("User-Agent", self.user_agent(by))],
        });
    }

    /// Someone creates a Microsoft 365 group (a team) and becomes its owner and first member.
    fn new_group(&mut self, at: i64) {
        let projects = self.directory.projects;
        let round = self.created_groups / projects.len();
        let Some(&base) = projects.get(self.created_groups % projects.len()) else { return };
        self.created_groups += 1;
        let name = if round == 0 { base.to_owned() } else { format!("{base} {}", round + 1) };
        let creator = self.rng.below(self.people.len() as u64) as usize;
        let id = stable_guid(&[self.hash, hash_str(&name), at as u64]);
        let nickname: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        let correlation = self.rng.guid();
        let props = vec![
            prop("DisplayName", Some("[]".into()), Some(listed(&name))),
            prop("MailNickname", Some("[]".into()), Some(listed(&nickname))),
            prop("Included Updated Properties", None, Some(quoted("DisplayName, MailNickname"))),
        ];
        let initiator = self.user_initiator(creator, at);
        self.push(Event {
            at,
            service: Service::CoreDirectory,
            category: "GroupManagement",
            activity: "Add group",
            operation: "Add",
            failure: None,
            reason: "",
            correlation: correlation.clone(),
            initiator: initiator.clone(),
            targets: vec![target(&id, &name, "Group", Some("unifiedGroups"), props)],
            details: vec![("User-Agent", self.user_agent(creator))],
        });
        let owner_props =
            vec![prop("Group.ObjectID", None, Some(quoted(&id))), prop("Group.DisplayName", None, Some(quoted(&name)))];
        let targets = vec![
            self.user_target(creator, owner_props),
            target(&id, &name, "Group", Some("unifiedGroups"), Vec::new()),
        ];
        self.push(Event {
            at: at + 2 * TICKS_PER_SECOND,
            service: Service::CoreDirectory,
            category: "GroupManagement",
            activity: "Add owner to group",
            operation: "Assign",
            failure: None,
            reason: "",
            correlation: correlation.clone(),
            initiator,
            targets,
            details: vec![("User-Agent", self.user_agent(creator))],
        });
        self.groups.push(Group { id, name, kind: "unifiedGroups", members: BTreeSet::new() });
        let g = self.groups.len() - 1;
        self.membership(at + 3 * TICKS_PER_SECOND, g, creator, true, creator, Some(correlation));
    }

    /// Someone consents to an app: a user to one of the tenant's own apps for themselves, the
    /// Global Administrator to one for everyone, or an administrator to one of Microsoft's tools.
    fn consent(&mut self, at: i64) {
        let roll = self.rng.below(100);
        let admins: Vec<usize> = (0..self.people.len()).filter(|&i| self.user(i).is_some_and(is_admin)).collect();
        let Some(&custom) = self.rng.choose(self.profile.custom_apps) else { return };
        let (who, name, app_id, scope, for_all) = if roll < 25 {
            let (name, id, scope) = *pick!(self.rng, &ADMIN_TOOLS);
            let Some(&admin) = self.rng.choose(&admins) else { return };
            (admin, name.to_owned(), id.to_owned(), scope, false)
        } else {
            let app_id = stable_guid(&[self.hash, hash_str(custom)]);
            let scope = "openid profile offline_access User.Read";
            if roll < 45 {
                (0, custom.to_owned(), app_id, scope, true)
            } else {
                (self.rng.below(self.people.len() as u64) as usize, custom.to_owned(), app_id, scope, false)
            }
        };
        let sp = self.service_principal(&app_id);
        let principal = if for_all { None } else { self.user(who).map(|u| u.object_id.clone()) }.unwrap_or_default();
        let grant = grant_id(&mut self.rng);
        let permissions = format!(
            "[] => [[Id: {grant}, ClientId: {sp}, PrincipalId: {principal}, ResourceId: {}, ConsentType: {}, \
             Scope: {scope}, CreatedDateTime: , LastModifiedDateTime ]]; ",
            self.service_principal(GRAPH_APP_ID),
            if for_all { "AllPrincipals" } else { "Principal" },
        );
        let flag = |b: bool| quoted(if b { "True" } else { "False" });
        let props = vec![
            prop("ConsentContext.IsAdminConsent", None, Some(flag(for_all))),
            prop("ConsentContext.IsAppOnly", None, Some(flag(false))),
            prop("ConsentContext.OnBehalfOfAll", None, Some(flag(for_all))),
            prop("ConsentContext.Tags", None, Some(quoted("WindowsAzureActiveDirectoryIntegratedApp"))),
            prop("ConsentAction.Permissions", None, Some(quoted(&permissions))),
            prop("TargetId.ServicePrincipalNames", None, Some(quoted(&app_id))),
        ];
        let blocked = !for_all && self.user(who).is_some_and(|u| !is_admin(u)) && self.rng.chance(0.15);
        let initiator = self.user_initiator(who, at);
        let correlation = self.rng.guid();
        self.push(Event {
            at,
            service: Service::CoreDirectory,
            category: "ApplicationManagement",
            activity: "Consent to application",
            operation: "Assign",
            failure: blocked.then_some("Microsoft.Online.Security.UserConsentBlockedForRiskyAppsException"),
            reason: "",
            correlation,
            initiator,
            targets: vec![target(&sp, &name, "ServicePrincipal", None, props)],
            details: vec![("User-Agent", self.user_agent(who)), ("AppId", app_id)],
        });
    }

    /// The Global Administrator gives someone a directory role for a few days, then takes it away.
    fn role_assignment(&mut self, at: i64) {
        let plain: Vec<usize> =
            (0..self.people.len()).filter(|&i| self.user(i).is_some_and(|u| !is_admin(u))).collect();
        let Some(&who) = self.rng.choose(&plain) else { return };
        let (role, template) = *pick!(self.rng, &TEMPORARY_ROLES);
        let role_id = stable_guid(&[self.hash, hash_str(template)]);
        let removed = at + i64::from(self.rng.between(1, 5)) * TICKS_PER_DAY;
        for (add, at) in [(true, at), (false, removed)] {
            if at > self.end {
                break;
            }
            let values = [
                ("Role.ObjectID", quoted(&role_id)),
                ("Role.DisplayName", quoted(role)),
                ("Role.TemplateId", quoted(template)),
            ];
            let props = values
                .into_iter()
                .map(|(k, v)| if add { prop(k, None, Some(v)) } else { prop(k, Some(v), None) })
                .collect();
            let targets = vec![self.user_target(who, props), target(&role_id, role, "Role", None, Vec::new())];
            let initiator = self.user_initiator(0, at);
            let correlation = self.rng.guid();
            self.push(Event {
                at,
                service: Service::CoreDirectory,
                category: "RoleManagement",
                activity: if add { "Add member to role" } else { "Remove member from role" },
                operation: if add { "Assign" } else { "Unassign" },
                failure: None,
                reason: "",
                correlation,
                initiator,
                targets,
                details: vec![("User-Agent", self.user_agent(0))],
            });
        }
    }

    /// The security administrator excludes the emergency access account from a policy, or
    /// includes it again.
    fn policy_update(&mut self, at: i64) {
        let i = self.rng.below(self.profile.policies.len() as u64) as usize;
        let emergency = stable_guid(&[self.hash, hash_str("emergency access account")]);
        let (Some(policy), Some(log)) = (self.profile.policies.get(i), self.policies.get_mut(i)) else { return };
        let old = policy_json(policy, log, &emergency);
        log.excludes_emergency_account = !log.excludes_emergency_account;
        log.modified = Some(at);
        let new = policy_json(policy, log, &emergency);
        let props = vec![prop("ConditionalAccessPolicy", Some(old), Some(new))];
        let by = self.security_admin;
        let initiator = self.user_initiator(by, at);
        let correlation = self.rng.guid();
        self.push(Event {
            at,
            service: Service::ConditionalAccess,
            category: "Policy",
            activity: "Update conditional access policy",
            operation: "Update",
            failure: None,
            reason: "",
            correlation,
            initiator,
            targets: vec![target(policy.id, policy.name, "Policy", None, props)],
            details: vec![("Category", "Conditional Access".to_owned())],
        });
    }

    /// Someone who forgot their password resets it themselves (sometimes giving up half-way).
    fn self_service_reset(&mut self, at: i64) {
        let who = self.rng.below(self.people.len() as u64) as usize;
        let initiator = self.user_initiator(who, at);
        let correlation = self.rng.guid();
        let mut t = at;
        let mut steps = vec![
            ("Self-service password reset flow activity progress", "User started the password reset flow"),
            ("Self-service password reset flow activity progress", "User submitted their user ID"),
        ];
        if self.rng.chance(0.88) {
            steps.push(("Reset password (self-service)", "Successfully completed reset."));
        }
        for (activity, reason) in steps {
            let targets = vec![self.user_target(who, Vec::new())];
            self.push(Event {
                at: t,
                service: Service::PasswordManagement,
                category: "UserManagement",
                activity,
                operation: "Update",
                failure: None,
                reason,
                correlation: correlation.clone(),
                initiator: initiator.clone(),
                targets,
                details: Vec::new(),
            });
            t += i64::from(self.rng.between(5, 90)) * TICKS_PER_SECOND + self.rng.below(TICKS_PER_SECOND as u64) as i64;
        }
    }

    /// An administrator resets `who`'s password: Core Directory and password management both log it.
    fn admin_reset(&mut self, at: i64, who: usize, admin: usize) {
        let initiator = self.user_initiator(admin, at);
        let correlation = self.rng.guid();
        for (service, activity, at) in [
            (Service::CoreDirectory, "Reset user password", at),
            (Service::PasswordManagement, "Reset password (by admin)", at + TICKS_PER_SECOND / 2),
        ] {
            let targets = vec![self.user_target(who, Vec::new())];
            self.push(Event {
                at,
                service,
                category: "UserManagement",
                activity,
                operation: "Update",
                failure: None,
                reason: "",
                correlation: correlation.clone(),
                initiator: initiator.clone(),
                targets,
                details: vec![("User-Agent", self.user_agent(admin))],
            });
        }
    }

    /// Someone registers a new multi-factor authentication method.
    fn security_info(&mut self, at: i64) {
        let who = self.rng.below(self.people.len() as u64) as usize;
        let reason = *pick!(self.rng, &SECURITY_INFO);
        let initiator = self.user_initiator(who, at);
        let targets = vec![self.user_target(who, Vec::new())];
        let correlation = self.rng.guid();
        self.push(Event {
            at,
            service: Service::AuthenticationMethods,
            category: "UserManagement",
            activity: "User registered security info",
            operation: "Add",
            failure: None,
            reason,
            correlation,
            initiator,
            targets,
            details: Vec::new(),
        });
    }

    /// Most users whose sign-in failed on an expired password change it minutes later, from the
    /// same address.
    fn password_change(&mut self, sign_in: &Map<String, Value>) {
        let text = |k: &str| sign_in.get(k).and_then(Value::as_str).unwrap_or_default();
        let (Some(&who), Ok(signed_in)) = (self.by_id.get(text("userId")), parse_ticks(text("createdDateTime"))) else {
            return;
        };
        if !self.rng.chance(0.7) {
            return;
        }
        let at = (signed_in + i64::from(self.rng.between(40, 360)) * TICKS_PER_SECOND).min(self.end);
        let initiator = self.user_initiator_from(who, text("ipAddress"));
        let correlation = self.rng.guid();
        for (service, activity, at) in [
            (Service::PasswordManagement, "Change password (self-service)", at),
            (Service::CoreDirectory, "Change user password", at + TICKS_PER_SECOND),
        ] {
            let targets = vec![self.user_target(who, Vec::new())];
            self.push(Event {
                at,
                service,
                category: "UserManagement",
                activity,
                operation: "Update",
                failure: None,
                reason: "",
                correlation: correlation.clone(),
                initiator: initiator.clone(),
                targets,
                details: vec![("User-Agent", text("userAgent").to_owned())],
            });
        }
    }
}

fn target(id: &str, name: &str, kind: &str, group_type: Option<&str>, props: Vec<Value>) -> Value {
    json!({"id": id, "displayName": name, "type": kind, "userPrincipalName": null, "groupType": group_type,
        "modifiedProperties": props})
}

fn prop(name: &str, old: Option<String>, new: Option<String>) -> Value {
    json!({"displayName": name, "oldValue": old, "newValue": new})
}

/// A value as the audit log writes a single string: JSON-quoted (`"\"x\""`).
fn quoted(s: &str) -> String {
    Value::from(s).to_string()
}

/// A value as the audit log writes an attribute: a JSON array (`"[\"x\"]"`).
fn listed(s: &str) -> String {
    json!([s]).to_string()
}

fn is_admin(user: &DemoUser) -> bool {
    user.admin_role.is_some()
}

/// An OAuth2 permission grant id: 43 base64url characters.
fn grant_id(rng: &mut Rng) -> String {
    const CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..43).map(|_| char::from(*pick!(rng, CHARS))).collect()
}

/// A `conditionalAccessPolicy` as the audit log records it (JSON text), with the time format the
/// service uses there (`2022-12-28T20:10:49.423328+00:00`).
fn policy_json(policy: &Policy, log: &PolicyLog, emergency_account: &str) -> String {
    let time = |t: i64| from_ticks(t).format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string();
    let state = match policy.state {
        PolicyState::On => "enabled",
        PolicyState::ReportOnly => "enabledForReportingButNotEnforced",
        PolicyState::Off => "disabled",
    };
    let (include_users, include_roles): (Vec<&str>, Vec<&str>) = match policy.rule {
        Rule::MfaForAdmins => (Vec::new(), ADMIN_ROLE_TEMPLATES.to_vec()),
        Rule::GuestAccessToSharePoint => (vec!["GuestsOrExternalUsers"], Vec::new()),
        _ => (vec!["All"], Vec::new()),
    };
    let exclude_users: Vec<&str> = if log.excludes_emergency_account { vec![emergency_account] } else { Vec::new() };
    let applications = match policy.rule {
        Rule::CompliantDeviceForExchange => vec![EXCHANGE_APP_ID],
        Rule::GuestAccessToSharePoint => vec![SHAREPOINT_APP_ID],
        _ => vec!["All"],
    };
    let client_app_types =
        if policy.rule == Rule::BlockLegacyAuthentication { vec!["exchangeActiveSync", "other"] } else { vec!["all"] };
    let grant = if policy.grant.is_empty() {
        Value::Null
    } else {
        let controls: Vec<&str> = policy
            .grant
            .iter()
            .map(|g| match *g {
                "Mfa" => "mfa",
                "Block" => "block",
                "RequireCompliantDevice" => "compliantDevice",
                "RequireDomainJoinedDevice" => "domainJoinedDevice",
                other => other,
            })
            .collect();
        json!({"operator": "OR", "builtInControls": controls, "customAuthenticationFactors": [], "termsOfUse": []})
    };
    let mut session = Map::new();
    for s in policy.session {
        match *s {
            "SignInFrequency" => {
                session.insert(
                    "signInFrequency".into(),
                    json!({"value": 12, "type": "hours", "authenticationType": "primaryAndSecondaryAuthentication",
                        "frequencyInterval": "timeBased", "isEnabled": true}),
                );
            }
            "AppEnforcedRestrictions" => {
                session.insert("applicationEnforcedRestrictions".into(), json!({"isEnabled": true}));
            }
            _ => {}
        }
    }
    let session = if session.is_empty() { Value::Null } else { Value::Object(session) };
    json!({
        "id": policy.id,
        "displayName": policy.name,
        "createdDateTime": time(log.created),
        "modifiedDateTime": log.modified.map(time),
        "state": state,
        "conditions": {
            "applications": {"includeApplications": applications, "excludeApplications": [], "includeUserActions": [],
                "includeAuthenticationContextClassReferences": [], "applicationFilter": null},
            "users": {"includeUsers": include_users, "excludeUsers": exclude_users, "includeGroups": [],
                "excludeGroups": [], "includeRoles": include_roles, "excludeRoles": []},
            "userRiskLevels": [],
            "signInRiskLevels": [],
            "clientAppTypes": client_app_types,
            "servicePrincipalRiskLevels": [],
        },
        "grantControls": grant,
        "sessionControls": session,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::{HashMap, HashSet};

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::identity_protection::identity_protection;
    use crate::{sign_ins, users};
    use domain::model::directory_audit;

    fn config(sign_ins: usize, seed: u64) -> DemoConfig {
        DemoConfig { sign_ins, days: 30, seed, end: Utc.with_ymd_and_hms(2024, 6, 14, 17, 23, 11).unwrap() }
    }

    fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
        v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
    }

    fn docs(records: &[DemoRecord]) -> Vec<(&'static str, Value)> {
        records.iter().map(|r| (r.tenant_id, Value::Object(r.document.clone()))).collect()
    }

    #[test]
    fn the_same_config_gives_the_same_audits_and_another_seed_others() {
        let a = directory_audits(&config(3_000, 1));
        assert_eq!(a, directory_audits(&config(3_000, 1)));
        let b = directory_audits(&config(3_000, 2));
        assert_ne!(a, b);
        let ids: HashSet<&Value> = a.iter().map(|r| &r.document["id"]).collect();
        assert!(b.iter().all(|r| !ids.contains(&r.document["id"])));
        // The one-pass entry point gives the same as the two separate ones.
        let cfg = config(3_000, 1);
        assert_eq!(crate::audits_and_risk(&cfg), (a, identity_protection(&cfg)));
    }

    #[test]
    fn every_audit_validates_in_the_window_in_order_by_a_tenant_member_or_app() {
        let cfg = config(10_000, 3);
        let (start, end) = window(&cfg);
        let records = directory_audits(&cfg);
        assert!(records.len() > 1_000, "{}", records.len());
        let mut ids = HashSet::new();
        let mut last = (i64::MIN, String::new());
        for r in &records {
            let a = directory_audit::parse(&r.document).unwrap_or_else(|e| panic!("{e}: {:?}", r.document));
            let keys: Vec<&str> = r.document.keys().map(String::as_str).collect();
            assert_eq!(keys.len(), directory_audit::V1_PROPERTIES.len());
            assert!(keys.iter().all(|k| directory_audit::V1_PROPERTIES.contains(k)));
            let at = a.activity_date_time.ticks;
            assert!((start..=end).contains(&at));
            assert!((at, a.id.clone()) > last, "oldest first");
            last = (at, a.id.clone());
            assert!(ids.insert(a.id.clone()));
            let correlation = a.correlation_id.unwrap();
            assert!(a.id.contains(correlation.as_str()), "{}", a.id);
            let tenant = TENANTS.iter().find(|t| t.id == r.tenant_id).unwrap();
            let members: HashMap<String, String> =
                users(tenant).into_iter().map(|u| (u.object_id, u.user_principal_name)).collect();
            match (&a.initiated_by.user, &a.initiated_by.app) {
                (Some(u), None) => {
                    let id = u.id.as_ref().unwrap().as_str();
                    assert_eq!(members.get(id), u.user_principal_name.as_ref(), "{id}");
                    assert!(u.ip_address.as_deref().unwrap().parse::<std::net::IpAddr>().is_ok());
                }
                (None, Some(app)) => assert!(app.app_id.is_some() && app.service_principal_id.is_some()),
                other => panic!("initiatedBy {other:?}"),
            }
            for t in a.target_resources.unwrap() {
                if t.kind.as_deref() == Some("User") {
                    let id = t.id.unwrap();
                    assert_eq!(members.get(&id), t.user_principal_name.as_ref(), "{id}");
                }
                if t.kind.as_deref() == Some("Group") {
                    assert!(t.group_type.is_some());
                }
            }
        }
    }

    #[test]
    fn categories_services_and_outcomes_come_in_plausible_proportions() {
        let records = directory_audits(&config(10_000, 5));
        let all = docs(&records);
        let count = |f: &dyn Fn(&Value) -> bool| all.iter().filter(|(_, d)| f(d)).count();
        let n = all.len();
        for category in ["UserManagement", "GroupManagement", "ApplicationManagement", "RoleManagement", "Policy"] {
            assert!(count(&|d| d["category"] == category) > 0, "no {category}");
        }
        for service in
            ["Core Directory", "Self-service Password Management", "Conditional Access", "Authentication Methods"]
        {
            assert!(count(&|d| d["loggedByService"] == service) > 0, "no {service}");
        }
        let core = count(&|d| d["loggedByService"] == "Core Directory");
        assert!(core * 2 > n, "Core Directory logs most: {core} of {n}");
        let failures = count(&|d| d["result"] == "failure");
        assert!(failures > 0 && failures * 50 < n, "{failures} of {n}");
        assert!(count(&|d| !d["initiatedBy"]["app"].is_null()) > 10);
        for t in &TENANTS {
            let tenant: Vec<&Value> = all.iter().filter(|(id, _)| *id == t.id).map(|(_, d)| d).collect();
            // At least one event per user every eight days.
            let expected = users(t).len() * 30 / 8;
            assert!(tenant.len() > expected, "{}: {} audits", t.display_name, tenant.len());
            let free = t.tier == LicenseTier::Free;
            let conditional_access = tenant.iter().any(|d| d["loggedByService"] == "Conditional Access");
            let reset = tenant.iter().any(|d| d["activityDisplayName"] == "Reset password (self-service)");
            assert_eq!((conditional_access, reset), (!free, !free), "{}", t.display_name);
        }
    }

    #[test]
    fn changes_agree_with_each_other() {
        let records = directory_audits(&config(2_000, 7));
        let all = docs(&records);
        // Group membership alternates per person and group.
        let mut member: HashMap<(String, String), bool> = HashMap::new();
        // A policy's old value is its previous new value; job titles change from their last value.
        let mut policies: HashMap<String, String> = HashMap::new();
        let mut attributes: HashMap<(String, String), String> = HashMap::new();
        for (_, d) in &all {
            let activity = text(d, "/activityDisplayName");
            let user = text(d, "/targetResources/0/id").to_owned();
            match activity {
                "Add member to group" | "Remove member from group" => {
                    let group = text(d, "/targetResources/1/id").to_owned();
                    let add = activity.starts_with("Add");
                    let before = member.insert((user, group), add);
                    assert_ne!(before, Some(add), "{d}");
                }
                "Update conditional access policy" => {
                    let (old, new) = (
                        text(d, "/targetResources/0/modifiedProperties/0/oldValue"),
                        text(d, "/targetResources/0/modifiedProperties/0/newValue"),
                    );
                    let (o, n): (Value, Value) =
                        (serde_json::from_str(old).unwrap(), serde_json::from_str(new).unwrap());
                    assert_eq!(o["id"], d["targetResources"][0]["id"]);
                    assert_ne!(o["conditions"]["users"]["excludeUsers"], n["conditions"]["users"]["excludeUsers"]);
                    assert_eq!(o["conditions"]["applications"], n["conditions"]["applications"]);
                    assert_eq!(o["state"], n["state"]);
                    if let Some(previous) = policies.insert(text(d, "/targetResources/0/id").to_owned(), new.to_owned())
                    {
                        assert_eq!(previous, old);
                    }
                }
                "Update user" => {
                    let name = text(d, "/targetResources/0/modifiedProperties/0/displayName").to_owned();
                    let old = text(d, "/targetResources/0/modifiedProperties/0/oldValue");
                    let new = text(d, "/targetResources/0/modifiedProperties/0/newValue");
                    assert_ne!(old, new);
                    if let Some(previous) = attributes.insert((user, name), new.to_owned()) {
                        assert_eq!(previous, old);
                    }
                }
                _ => {}
            }
        }
        assert!(member.len() > 20 && !policies.is_empty() && !attributes.is_empty());
        // A role given is taken away a few days later (unless the window ends first).
        let added = all.iter().filter(|(_, d)| d["activityDisplayName"] == "Add member to role").count();
        let removed = all.iter().filter(|(_, d)| d["activityDisplayName"] == "Remove member from role").count();
        assert!(added >= removed && removed > 0, "{added} {removed}");
    }

    #[test]
    fn password_events_follow_the_sign_ins_and_identity_protection() {
        let cfg = config(20_000, 9);
        let records = directory_audits(&cfg);
        let all = docs(&records);
        let expired: Vec<(String, i64, String)> = sign_ins(&cfg)
            .filter(|s| s.document["status"]["errorCode"] == 50055)
            .map(|s| {
                let d = &s.document;
                let at = parse_ticks(d["createdDateTime"].as_str().unwrap()).unwrap();
                (d["userId"].as_str().unwrap().to_owned(), at, d["ipAddress"].as_str().unwrap().to_owned())
            })
            .collect();
        let changes: Vec<&Value> = all
            .iter()
            .filter(|(_, d)| d["activityDisplayName"] == "Change password (self-service)")
            .map(|(_, d)| d)
            .collect();
        assert!(!changes.is_empty() && changes.len() <= expired.len(), "{} {}", changes.len(), expired.len());
        for c in changes {
            let at = parse_ticks(text(c, "/activityDateTime")).unwrap();
            let user = text(c, "/initiatedBy/user/id");
            assert_eq!(user, text(c, "/targetResources/0/id"));
            assert!(
                expired.iter().any(|(u, t, ip)| u == user
                    && *t < at
                    && at - *t < 10 * 60 * TICKS_PER_SECOND
                    && ip == text(c, "/initiatedBy/user/ipAddress")),
                "{c}"
            );
        }
        // Every password reset in a risky user's history is in the audit log, by the same admin.
        let ip = identity_protection(&cfg);
        let mut resets = 0;
        for u in &ip.risky_users {
            for h in u.history.iter().filter(|h| h["riskDetail"] == "adminGeneratedTemporaryPassword") {
                resets += 1;
                let logged = all.iter().any(|(tenant, d)| {
                    *tenant == u.tenant_id
                        && d["activityDisplayName"] == "Reset user password"
                        && d["activityDateTime"] == h["riskLastUpdatedDateTime"]
                        && d["targetResources"][0]["id"] == u.current["id"]
                        && d["initiatedBy"]["user"]["id"] == h["initiatedBy"]
                });
                assert!(logged, "{h:?}");
            }
        }
        assert!(resets > 0);
    }
}
