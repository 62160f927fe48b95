//! Tenant rules that depend on the license tier: how long each data set is kept, which data sets a
//! tier may read tenant-wide, and which fields read `hidden` below P2 (`docs/graph-notes.md` §7, §10).

use crate::ids::LicenseTier;
use crate::time::TICKS_PER_DAY;

/// The retention tables (one row of days per tier each): which one applies to an entity set is
/// `SetKind::retention`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataSet {
    SignIns,
    DirectoryAudits,
    RiskDetections,
}

impl DataSet {
    pub const ALL: [Self; 3] = [Self::SignIns, Self::DirectoryAudits, Self::RiskDetections];

    /// The Graph name of the set.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::SignIns => "signIns",
            Self::DirectoryAudits => "directoryAudits",
            Self::RiskDetections => "riskDetections",
        }
    }
}

/// Retention in days per data set and tier (free, p1, p2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub sign_ins: [u32; 3],
    pub directory_audits: [u32; 3],
    pub risk_detections: [u32; 3],
}

impl Default for RetentionPolicy {
    /// The current Entra table: audits 7/30/30, sign-ins 7/30/30, risk detections 7/30/90 days.
    fn default() -> Self {
        Self { sign_ins: [7, 30, 30], directory_audits: [7, 30, 30], risk_detections: [7, 30, 90] }
    }
}

impl RetentionPolicy {
    fn table(&self, set: DataSet) -> [u32; 3] {
        match set {
            DataSet::SignIns => self.sign_ins,
            DataSet::DirectoryAudits => self.directory_audits,
            DataSet::RiskDetections => self.risk_detections,
        }
    }

    /// Days `tier` keeps `set`.
    #[must_use]
    pub fn days(&self, set: DataSet, tier: LicenseTier) -> u32 {
        let [free, p1, p2] = self.table(set);
        match tier {
            LicenseTier::Free => free,
            LicenseTier::P1 => p1,
            LicenseTier::P2 => p2,
        }
    }

    /// The oldest instant (ticks) `tier` may still see of `set` at `now`.
    #[must_use]
    pub fn window_start(&self, set: DataSet, tier: LicenseTier, now_ticks: i64) -> i64 {
        now_ticks - i64::from(self.days(set, tier)) * TICKS_PER_DAY
    }

    /// The longest any tier keeps `set`: older rows are invisible to everyone.
    #[must_use]
    pub fn longest_days(&self, set: DataSet) -> u32 {
        self.table(set).into_iter().max().unwrap_or(0)
    }

    /// Parses `free,p1,p2` day counts, e.g. `7,30,30`.
    ///
    /// # Errors
    /// When the text is not three whole numbers, each at least 1.
    pub fn parse_days(text: &str) -> Result<[u32; 3], String> {
        let parts: Vec<Result<u32, _>> = text.split(',').map(|p| p.trim().parse::<u32>()).collect();
        match parts.as_slice() {
            [Ok(a), Ok(b), Ok(c)] if *a >= 1 && *b >= 1 && *c >= 1 => Ok([*a, *b, *c]),
            _ => Err(format!("'{text}' is not three day counts for free,p1,p2 (e.g. 7,30,30)")),
        }
    }
}

/// Sign-in properties that read `hidden` below P2.
pub const SIGN_IN_P2_FIELDS: &[&str] = &["riskDetail", "riskLevelAggregated", "riskLevelDuringSignIn"];

/// Risk-detection properties that read `hidden` below P2: the beta-only `mitreTechniqueId` and the
/// `additionalInfo` details (related locations, user agents, alert URLs) would name the premium
/// detection that `generic` stands for.
pub const RISK_DETECTION_P2_FIELDS: &[&str] = &["riskLevel", "riskDetail", "mitreTechniqueId", "additionalInfo"];

/// Risk event types every tier sees by name (lower case); below P2 every other (premium)
/// detection reads `generic`, as the portal's "Additional risk detected" (`docs/graph-notes.md` §3.3, §10).
pub const NON_PREMIUM_RISK_EVENT_TYPES: &[&str] = &[
    "generic",
    "anonymizedipaddress",
    "adminconfirmedusercompromised",
    "leakedcredentials",
    "investigationsthreatintelligence",
    "investigationsthreatintelligencesigninlinked",
];

/// What a premium value reads below P2.
pub const GENERIC: &str = "generic";

/// Properties whose values outside `shown` (lower case) read [`GENERIC`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenericMask {
    pub fields: &'static [&'static str],
    pub shown: &'static [&'static str],
}

impl GenericMask {
    /// What `value` reads through this mask (values compare case-insensitively).
    #[must_use]
    pub fn apply<'v>(&self, value: &'v str) -> &'v str {
        if self.shown.iter().any(|s| s.eq_ignore_ascii_case(value)) { value } else { GENERIC }
    }
}

/// How a tenant's license changes what the fields of one entity set read: in responses, in
/// `$filter`, `$orderby`, `$count` and exports alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Masks {
    /// Properties that read `hidden`.
    pub hidden: &'static [&'static str],
    /// Properties whose premium values read `generic`.
    pub generic: Option<GenericMask>,
}

impl Masks {
    pub const NONE: Self = Self { hidden: &[], generic: None };

    /// Whether nothing is masked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.hidden.is_empty() && self.generic.is_none()
    }

    /// The generic mask of `path`, if it has one.
    #[must_use]
    pub fn generic_of(&self, path: &str) -> Option<GenericMask> {
        self.generic.filter(|g| g.fields.contains(&path))
    }
}

/// Graph's error for a tenant-wide sign-in read without a premium license.
pub const NON_PREMIUM_MESSAGE: &str = "Neither tenant is B2C or tenant doesn't have premium license";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_table_is_entras() {
        let p = RetentionPolicy::default();
        assert_eq!(p.days(DataSet::SignIns, LicenseTier::Free), 7);
        assert_eq!(p.days(DataSet::RiskDetections, LicenseTier::P2), 90);
        assert_eq!(p.longest_days(DataSet::SignIns), 30);
        assert_eq!(p.window_start(DataSet::SignIns, LicenseTier::P1, 31 * TICKS_PER_DAY), TICKS_PER_DAY);
    }

    #[test]
    fn day_lists_parse() {
        assert_eq!(RetentionPolicy::parse_days("7, 30,90").unwrap(), [7, 30, 90]);
        assert!(RetentionPolicy::parse_days("7,30").is_err());
        assert!(RetentionPolicy::parse_days("0,30,30").is_err());
    }
}
