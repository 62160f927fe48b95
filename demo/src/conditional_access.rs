//! Conditional Access as a sign-in records it: which of the tenant's policies applied, what each
//! one concluded, and the overall `conditionalAccessStatus`, all consistent with how the sign-in
//! ended. A Free tenant has no policies, so its sign-ins read `notApplied` with an empty list.

use serde_json::{Map, Value};

use super::catalog::{self, Failure, Policy, PolicyState, Rule, Stage, TenantProfile};
use super::people::Device;

/// The policy results the generator produces.
const RESULTS: [&str; 7] = [
    "success",
    "failure",
    "notApplied",
    "notEnabled",
    "reportOnlySuccess",
    "reportOnlyFailure",
    "reportOnlyNotApplied",
];

/// Every policy's `appliedConditionalAccessPolicy` object for each result in [`RESULTS`], built
/// once per tenant and cloned per sign-in.
pub(super) fn policy_objects(profile: &TenantProfile) -> Vec<Vec<Value>> {
    profile.policies.iter().map(|policy| RESULTS.iter().map(|result| policy_object(policy, result)).collect()).collect()
}

pub(super) fn has_rule(profile: &TenantProfile, rule: Rule) -> bool {
    profile.policies.iter().any(|p| p.rule == rule && p.state != PolicyState::Off)
}

/// What Conditional Access looks at.
pub(super) struct Facts<'a> {
    pub is_admin: bool,
    pub legacy: bool,
    pub unmanaged_browser: bool,
    pub device: &'a Device,
    pub resource_id: &'a str,
}

/// `conditionalAccessStatus` and `appliedConditionalAccessPolicies`, consistent with each other
/// and with the failure: a policy failed exactly when the sign-in failed because of it.
pub(super) fn evaluate(
    profile: &TenantProfile,
    objects: &[Vec<Value>],
    facts: &Facts<'_>,
    failure: Option<&Failure>,
) -> (&'static str, Vec<Value>) {
    let stage = failure.map(|f| f.stage);
    let evaluated = stage != Some(Stage::BeforeConditionalAccess);
    let mut any_success = false;
    let mut any_failure = false;
    let policies = profile
        .policies
        .iter()
        .zip(objects)
        // `policy_objects` builds one object per result (0..7), so none is ever skipped.
        .filter_map(|(policy, objects)| {
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
                (PolicyState::Off, _, _) => 3,
                (PolicyState::On, false, _) => 2,
                (PolicyState::On, true, true) => {
                    any_success = true;
                    0
                }
                (PolicyState::On, true, false) => {
                    any_failure = true;
                    1
                }
                (PolicyState::ReportOnly, false, _) => 6,
                (PolicyState::ReportOnly, true, true) => 4,
                (PolicyState::ReportOnly, true, false) => 5,
            };
            objects.get(result).cloned()
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

/// One `appliedConditionalAccessPolicy`. A disabled policy lists no controls, as Graph shows it.
fn policy_object(policy: &Policy, result: &str) -> Value {
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
}
