//! The entity sets idtrail serves, each described once. Everything that differs between sets is a
//! method of [`SetKind`] with an exhaustive `match`: its registry (fields, table, page sizes), its
//! URL, its row of the authorization matrix, its retention rule, what a license masks, how a
//! document is validated, whether it can be ingested. Adding a set is one new variant and the
//! compile errors it causes; nothing matches set names as strings.

use serde_json::{Map, Value};

use crate::access::Endpoint;
use crate::ids::LicenseTier;
use crate::model;
use crate::policy::{
    DataSet, GenericMask, Masks, NON_PREMIUM_RISK_EVENT_TYPES, RISK_DETECTION_P2_FIELDS, SIGN_IN_P2_FIELDS,
};
use crate::query::registry::{self, EntitySet};

/// One entity set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetKind {
    SignIns,
    DirectoryAudits,
    RiskDetections,
    RiskyUsers,
    /// `identityProtection/riskyUsers/{id}/history`: below a risky user.
    RiskyUserHistory,
}

/// How retention hides a set's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Rows older than the tier's window of this retention table are invisible.
    Window(DataSet),
    /// Kept while the risk is open; once remediated or dismissed, for the window of this table.
    WhileOpen(DataSet),
    /// Visible while the parent set's row is.
    WithParent(SetKind),
}

impl SetKind {
    /// Every set, top-level collections first, in the order the docs list them.
    pub const ALL: [Self; 5] =
        [Self::SignIns, Self::DirectoryAudits, Self::RiskDetections, Self::RiskyUsers, Self::RiskyUserHistory];

    /// The set's field registry, table and page sizes.
    #[must_use]
    pub fn registry(self) -> &'static EntitySet {
        match self {
            Self::SignIns => &registry::SIGN_INS,
            Self::DirectoryAudits => &registry::DIRECTORY_AUDITS,
            Self::RiskDetections => &registry::RISK_DETECTIONS,
            Self::RiskyUsers => &registry::RISKY_USERS,
            Self::RiskyUserHistory => &registry::RISKY_USER_HISTORY,
        }
    }

    /// The set below which this one is served (`riskyUsers/{id}/history`), if any.
    #[must_use]
    pub fn parent(self) -> Option<Self> {
        match self {
            Self::RiskyUserHistory => Some(Self::RiskyUsers),
            Self::SignIns | Self::DirectoryAudits | Self::RiskDetections | Self::RiskyUsers => None,
        }
    }

    /// The route path under the version: `auditLogs/signIns`,
    /// `identityProtection/riskyUsers/{user}/history`.
    #[must_use]
    pub fn route(self) -> String {
        match self.parent() {
            Some(parent) => format!("{}/{{user}}/{}", parent.registry().name, self.segment()),
            None => self.registry().name.to_owned(),
        }
    }

    /// The last segment of the set's path, in Graph's case: `signIns`, `history`.
    #[must_use]
    pub fn segment(self) -> &'static str {
        let name = self.registry().name;
        name.rsplit('/').next().unwrap_or(name)
    }

    /// The path segments this set routes on, in Graph's case (the router matches them
    /// case-insensitively).
    pub fn path_segments(self) -> impl Iterator<Item = &'static str> {
        self.registry().name.split('/')
    }

    /// The row of the authorization matrix that guards reading the set.
    #[must_use]
    pub fn endpoint(self) -> Endpoint {
        match self {
            Self::SignIns => Endpoint::SignIns,
            Self::DirectoryAudits => Endpoint::DirectoryAudits,
            Self::RiskDetections => Endpoint::RiskDetections,
            Self::RiskyUsers | Self::RiskyUserHistory => Endpoint::RiskyUsers,
        }
    }

    /// Which rows retention hides.
    #[must_use]
    pub fn retention(self) -> Retention {
        match self {
            Self::SignIns => Retention::Window(DataSet::SignIns),
            Self::DirectoryAudits => Retention::Window(DataSet::DirectoryAudits),
            Self::RiskDetections => Retention::Window(DataSet::RiskDetections),
            Self::RiskyUsers => Retention::WhileOpen(DataSet::RiskDetections),
            Self::RiskyUserHistory => Retention::WithParent(Self::RiskyUsers),
        }
    }

    /// The retention table whose window applies to the set (directly or through its parent).
    #[must_use]
    pub fn retention_table(self) -> DataSet {
        match self.retention() {
            Retention::Window(table) | Retention::WhileOpen(table) => table,
            Retention::WithParent(parent) => parent.retention_table(),
        }
    }

    /// What a tenant on `tier` sees of the set's fields: in responses, `$filter`, `$orderby`,
    /// `$count` and exports alike (`docs/graph-notes.md` §10).
    #[must_use]
    pub fn masks(self, tier: LicenseTier) -> Masks {
        if tier == LicenseTier::P2 {
            return Masks::NONE;
        }
        match self {
            // A sign-in's risk event types name the same detections as risk detections do.
            Self::SignIns => Masks {
                hidden: SIGN_IN_P2_FIELDS,
                generic: Some(GenericMask {
                    fields: &["riskEventTypes", "riskEventTypes_v2"],
                    shown: NON_PREMIUM_RISK_EVENT_TYPES,
                }),
            },
            Self::RiskDetections => Masks {
                hidden: RISK_DETECTION_P2_FIELDS,
                // `riskType` is the beta-only, deprecated name of the same value.
                generic: Some(GenericMask {
                    fields: &["riskEventType", "riskType"],
                    shown: NON_PREMIUM_RISK_EVENT_TYPES,
                }),
            },
            // Audits carry no premium fields; risky users and their history need P2 to be read at all.
            Self::DirectoryAudits | Self::RiskyUsers | Self::RiskyUserHistory => Masks::NONE,
        }
    }

    /// Validates `doc` as a document of the set's Graph type (the typed model).
    ///
    /// # Errors
    /// The first problem, as `property: reason`.
    pub fn validate(self, doc: &Map<String, Value>) -> Result<(), String> {
        match self {
            Self::SignIns => model::sign_in::parse(doc).map(drop),
            Self::DirectoryAudits => model::directory_audit::parse(doc).map(drop),
            Self::RiskDetections => model::risk_detection::parse(doc).map(drop),
            Self::RiskyUsers => model::risky_user::parse(doc).map(drop),
            Self::RiskyUserHistory => model::risky_user::parse_history_item(doc).map(drop),
        }
    }

    /// The name in `POST /ingest/{name}`, for the sets producers push; history items are written
    /// by the risky-user changes they record.
    #[must_use]
    pub fn ingest_name(self) -> Option<&'static str> {
        match self {
            Self::SignIns | Self::DirectoryAudits | Self::RiskDetections | Self::RiskyUsers => Some(self.segment()),
            Self::RiskyUserHistory => None,
        }
    }

    /// The set ingested at `/ingest/{name}` (case-insensitive).
    #[must_use]
    pub fn by_ingest_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.ingest_name().is_some_and(|n| n.eq_ignore_ascii_case(name)))
    }

    /// Whether `POST .../{set}/dismiss` and `.../confirmCompromised` act on the set.
    #[must_use]
    pub fn has_actions(self) -> bool {
        match self {
            Self::RiskyUsers => true,
            Self::SignIns | Self::DirectoryAudits | Self::RiskDetections | Self::RiskyUserHistory => false,
        }
    }

    /// Whether `GET .../{set}/delta` serves the set's checkpoint feed (by arrival). A risky user's
    /// history has none: its changes show in `riskyUsers/delta` as the user's new state.
    #[must_use]
    pub fn has_feed(self) -> bool {
        match self {
            Self::SignIns | Self::DirectoryAudits | Self::RiskDetections | Self::RiskyUsers => true,
            Self::RiskyUserHistory => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_is_described_once_and_its_registry_points_back() {
        for kind in SetKind::ALL {
            assert_eq!(kind.registry().kind, kind, "{}", kind.registry().name);
        }
        let names: std::collections::HashSet<&str> = SetKind::ALL.iter().map(|k| k.registry().name).collect();
        assert_eq!(names.len(), SetKind::ALL.len());
    }

    #[test]
    fn routes_segments_and_ingest_names() {
        assert_eq!(SetKind::SignIns.route(), "auditLogs/signIns");
        assert_eq!(SetKind::RiskyUserHistory.route(), "identityProtection/riskyUsers/{user}/history");
        assert_eq!(SetKind::RiskyUserHistory.segment(), "history");
        assert_eq!(SetKind::by_ingest_name("SIGNINS"), Some(SetKind::SignIns));
        assert_eq!(SetKind::by_ingest_name("history"), None);
        assert_eq!(SetKind::ALL.iter().filter(|k| k.ingest_name().is_some()).count(), 4);
    }

    #[test]
    fn retention_follows_the_tables() {
        assert_eq!(SetKind::RiskyUserHistory.retention_table(), DataSet::RiskDetections);
        assert_eq!(SetKind::DirectoryAudits.retention_table(), DataSet::DirectoryAudits);
        assert_eq!(SetKind::SignIns.retention(), Retention::Window(DataSet::SignIns));
    }

    #[test]
    fn premium_detections_read_generic_below_p2() {
        let m = SetKind::RiskDetections.masks(LicenseTier::P1);
        let g = m.generic_of("riskEventType").unwrap();
        assert_eq!(g.apply("unfamiliarFeatures"), "generic");
        assert_eq!(g.apply("leakedCredentials"), "leakedCredentials");
        assert_eq!(g.apply("unfamiliarFeatures"), m.generic_of("riskType").unwrap().apply("unfamiliarFeatures"));
        assert_eq!(m.hidden, ["riskLevel", "riskDetail", "mitreTechniqueId", "additionalInfo"]);
        assert!(SetKind::RiskDetections.masks(LicenseTier::P2).is_empty());
        assert!(SetKind::DirectoryAudits.masks(LicenseTier::Free).is_empty());
        let sign_ins = SetKind::SignIns.masks(LicenseTier::P1);
        assert_eq!(sign_ins.hidden, SIGN_IN_P2_FIELDS);
        assert_eq!(sign_ins.generic_of("riskEventTypes_v2").unwrap().apply("unlikelyTravel"), "generic");
        assert!(m.hidden.contains(&"additionalInfo"), "a detection's details would name what generic hides");
    }
}
