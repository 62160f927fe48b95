//! Deterministic demo data: three tenants (one per license tier), their people, and any number of
//! realistic v1.0 `signIn` documents, with the directory audits and Identity Protection data that
//! go with them, so that a fresh install has something true-looking to show.
//!
//! Everything is a pure function of its inputs: the same [`DemoConfig`] gives the same documents,
//! byte for byte, on every machine. This crate must never read the clock or an outside source of
//! randomness, and never holds more than an hour of sign-ins in memory.
//!
//! It is a crate of its own so that nothing the service stores depends on it: `domain` does not
//! know this crate, and production ids (`domain::ids::derived_guid`) have their own hash, so a
//! change here changes demo data and nothing else.
//!
//! - `catalog`: the fixed lists (tenants' offices and policies, apps with their real ids, error codes).
//! - `regions`: real cities, time zones, names and address blocks.
//! - `people`: users, their devices, browsers and home addresses.
//! - `schedule`: when sign-ins happen (daily and weekly rhythm in each tenant's time zone).
//! - `document`: one consistent sign-in document, with `conditional_access` and `risk`.
//! - `events`: an application's rollout and a morning of failed MFA, placed in each tenant's window.
//! - `audits`: directory audit events of the tenants' administration.
//! - `identity_protection`: risk detections and risky users drawn from the sign-ins.
//! - `rng`: the seeded PRNG and the hashes the generator builds on (demo data only).

pub mod audits;
pub use audits::DemoRecord;
mod catalog;
mod conditional_access;
mod document;
mod events;
pub mod identity_protection;
mod people;
mod regions;
mod risk;
mod rng;
mod schedule;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use document::TenantState;
use domain::ids::LicenseTier;
use domain::time::{TICKS_PER_DAY, to_ticks};
use rng::{Rng, mix};
use schedule::Schedule;

/// A demo tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoTenant {
    /// The tenant id: a fixed lower-case GUID.
    pub id: &'static str,
    pub display_name: &'static str,
    /// The verified domain users sign in with.
    pub domain: &'static str,
    pub tier: LicenseTier,
    /// Relative share of all generated sign-ins.
    pub share: u32,
}

/// The demo tenants: one per license tier, the largest on P2.
pub const TENANTS: [DemoTenant; 3] = [
    DemoTenant {
        id: "b4c9f32e-2a6d-4c8e-9f1a-7d3e5c2b8a61",
        display_name: "Contoso",
        domain: "contoso.com",
        tier: LicenseTier::P2,
        share: 60,
    },
    DemoTenant {
        id: "3f8a1d2c-6b4e-4a9d-8c7f-1e2d5b6a9c04",
        display_name: "Fabrikam",
        domain: "fabrikam.com",
        tier: LicenseTier::P1,
        share: 28,
    },
    DemoTenant {
        id: "9d2e7b15-4c3a-4f86-b0e9-6a1c8d3f2e57",
        display_name: "Northwind Traders",
        domain: "northwindtraders.com",
        tier: LicenseTier::Free,
        share: 12,
    },
];

/// A user of a demo tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoUser {
    /// The directory object id (a GUID), as sign-ins carry it in `userId`.
    pub object_id: String,
    pub user_principal_name: String,
    pub display_name: String,
    /// The user's directory role, by its display name (see `principal::DirectoryRole`).
    pub admin_role: Option<&'static str>,
}

/// The users of `tenant`, the same on every call: the Global Administrator first, then a few
/// other role holders, then everyone else (who holds no role).
#[must_use]
pub fn users(tenant: &DemoTenant) -> Vec<DemoUser> {
    people::users(tenant)
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoConfig {
    /// Total number of sign-ins, across all tenants.
    pub sign_ins: usize,
    /// How many days before `end` the sign-ins spread over (0 counts as 1).
    pub days: u32,
    pub seed: u64,
    /// The newest possible `createdDateTime`.
    pub end: DateTime<Utc>,
}

/// A generated sign-in and the tenant it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSignIn {
    pub tenant_id: &'static str,
    /// A v1.0 `signIn` document, as Graph would return it.
    pub document: Map<String, Value>,
}

/// The sign-ins of a [`DemoConfig`], generated lazily, oldest first.
#[derive(Debug)]
pub struct SignIns {
    schedule: Schedule,
    tenants: Vec<TenantState>,
    rng: Rng,
}

impl Iterator for SignIns {
    type Item = DemoSignIn;

    fn next(&mut self) -> Option<DemoSignIn> {
        // The schedule only names tenants of `TENANTS`, and they all have people and apps: the
        // loop never skips anything, but a slot nothing can fill is skipped rather than panicking.
        loop {
            let (ticks, tenant) = self.schedule.next()?;
            let Some(state) = self.tenants.get(usize::from(tenant)) else { continue };
            if let Some(document) = document::sign_in(state, ticks, &mut self.rng) {
                return Some(DemoSignIn { tenant_id: state.tenant.id, document });
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.schedule.remaining()).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl ExactSizeIterator for SignIns {}

/// The directory audits and the Identity Protection data that go with `sign_ins(cfg)`, from one
/// pass over the sign-ins: the same as [`audits::directory_audits`] and
/// [`identity_protection::identity_protection`], at the cost of one of them.
#[must_use]
pub fn audits_and_risk(cfg: &DemoConfig) -> (Vec<audits::DemoRecord>, identity_protection::IdentityProtection) {
    let analysis = identity_protection::analyse(cfg);
    (audits::from_analysis(cfg, &analysis), analysis.into())
}

/// Exactly `cfg.sign_ins` sign-ins spread over the tenants by [`DemoTenant::share`], with
/// `createdDateTime` in `[end - days, end]`, in time order. Deterministic for `cfg`.
#[must_use]
pub fn sign_ins(cfg: &DemoConfig) -> SignIns {
    let end = to_ticks(cfg.end);
    let start = end - i64::from(cfg.days.max(1)) * TICKS_PER_DAY;
    let total_share: u128 = TENANTS.iter().map(|t| u128::from(t.share)).sum::<u128>().max(1);
    let mut share_so_far = 0_u128;
    let mut allocated = 0_u64;
    let counts: Vec<(i64, u64)> = TENANTS
        .iter()
        .map(|t| {
            share_so_far += u128::from(t.share);
            let target = u64::try_from(cfg.sign_ins as u128 * share_so_far / total_share).unwrap_or(u64::MAX);
            let count = target - allocated;
            allocated = target;
            (people::profile_of(t).region.utc_offset_hours, count)
        })
        .collect();
    SignIns {
        // `end + 1`: the schedule's window is half-open and `end` itself may occur.
        schedule: Schedule::new(start, end + 1, cfg.seed, &counts),
        tenants: TENANTS.iter().map(|t| TenantState::new(*t, end)).collect(),
        rng: Rng::new(mix(&[cfg.seed, 0xD0C5])),
    }
}
