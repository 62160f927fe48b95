//! `microsoft.graph.riskyUser` and `microsoft.graph.riskyUserHistoryItem`, property for property as
//! the v1.0 CSDL has them (`docs/graph-notes.md` §3.1, §3.2).
//!
//! A history item's type derives from `riskyUser` and adds `activity`, `initiatedBy` and `userId`.
//! Its inherited properties are written out again rather than flattened in, so that an error
//! still names its property (`riskLevel: ...`). Only `id` is non-nullable. `history` is a
//! navigation property: it is never part of a `riskyUser` document.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::enums::{EnumValue, RiskDetail, RiskLevel, RiskState};
use super::sign_in::DateTimeOffset;
use crate::ids::{Guid, GuidOrEmpty};

/// `microsoft.graph.riskyUser` (v1.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskyUser {
    /// The user's object id.
    pub id: Guid,
    #[serde(default)]
    pub is_deleted: Option<bool>,
    #[serde(default)]
    pub is_processing: Option<bool>,
    #[serde(default)]
    pub risk_detail: Option<EnumValue<RiskDetail>>,
    #[serde(default)]
    pub risk_last_updated_date_time: Option<DateTimeOffset>,
    #[serde(default)]
    pub risk_level: Option<EnumValue<RiskLevel>>,
    #[serde(default)]
    pub risk_state: Option<EnumValue<RiskState>>,
    #[serde(default)]
    pub user_display_name: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

/// `microsoft.graph.riskyUserHistoryItem` (v1.0): one state of a risky user and what led to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskyUserHistoryItem {
    /// Inherited from `riskyUser`. Graph's own example repeats the user's id here; idtrail's demo
    /// gives every item its own id so that `history/{id}` names one item.
    pub id: Guid,
    #[serde(default)]
    pub is_deleted: Option<bool>,
    #[serde(default)]
    pub is_processing: Option<bool>,
    #[serde(default)]
    pub risk_detail: Option<EnumValue<RiskDetail>>,
    #[serde(default)]
    pub risk_last_updated_date_time: Option<DateTimeOffset>,
    #[serde(default)]
    pub risk_level: Option<EnumValue<RiskLevel>>,
    #[serde(default)]
    pub risk_state: Option<EnumValue<RiskState>>,
    #[serde(default)]
    pub user_display_name: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub activity: Option<RiskUserActivity>,
    /// The id of the actor (a user or an app), as text.
    #[serde(default)]
    pub initiated_by: Option<String>,
    #[serde(default)]
    pub user_id: Option<GuidOrEmpty>,
}

/// `microsoft.graph.riskUserActivity`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskUserActivity {
    #[serde(default)]
    pub detail: Option<EnumValue<RiskDetail>>,
    #[serde(default)]
    pub risk_event_types: Option<Vec<String>>,
}

/// The top-level properties of `riskyUser` in v1.0 (the CSDL's structural ones, plus the key `id`).
/// Properties outside this list (`isGuest` in beta examples, newer ones) are served under `/beta` only.
pub const V1_PROPERTIES: &[&str] = &[
    "id",
    "isDeleted",
    "isProcessing",
    "riskDetail",
    "riskLastUpdatedDateTime",
    "riskLevel",
    "riskState",
    "userDisplayName",
    "userPrincipalName",
];

/// The top-level properties of `riskyUserHistoryItem` in v1.0: `riskyUser`'s and its own three.
pub const HISTORY_V1_PROPERTIES: &[&str] = &[
    "id",
    "isDeleted",
    "isProcessing",
    "riskDetail",
    "riskLastUpdatedDateTime",
    "riskLevel",
    "riskState",
    "userDisplayName",
    "userPrincipalName",
    "activity",
    "initiatedBy",
    "userId",
];

use super::deserialize_document as deserialize;

/// Validates a Graph risky-user document against the v1.0 schema.
///
/// # Errors
/// A message naming the property path and what is wrong, e.g. `riskLevel: 'very high' is not a
/// member of the enum riskLevel; ...`.
pub fn parse(doc: &Map<String, Value>) -> Result<RiskyUser, String> {
    deserialize(doc)
}

/// Validates a Graph risky-user history item against the v1.0 schema.
///
/// # Errors
/// A message naming the property path and what is wrong, e.g. `activity.detail: ...`.
pub fn parse_history_item(doc: &Map<String, Value>) -> Result<RiskyUserHistoryItem, String> {
    deserialize(doc)
}

/// Splits a risky-user document into its v1.0 properties and the rest, each in the order sent.
#[must_use]
pub fn split_v1(doc: Map<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    super::split_properties(doc, V1_PROPERTIES)
}

/// Splits a history item into its v1.0 properties and the rest, each in the order sent.
#[must_use]
pub fn split_history_v1(doc: Map<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    super::split_properties(doc, HISTORY_V1_PROPERTIES)
}

#[cfg(test)]
mod tests {

    use super::*;

    fn object(json: &str) -> Map<String, Value> {
        serde_json::from_str::<Value>(json).unwrap().as_object().unwrap().clone()
    }

    /// `docs/graph-notes.md` §3.1 (beta riskyusers-get).
    fn user_example() -> Map<String, Value> {
        object(
            r#"{"id":"c2b6c2b9-dddc-acd0-2b39-d519d803dbc3","riskLastUpdatedDateTime":"2016-01-29T20:03:57.7872426Z","isProcessing":true,"isDeleted":true,"riskDetail":"adminConfirmedSigninCompromised","riskLevel":"high","riskState":"atRisk","userDisplayName":"Alex Wilbur","userPrincipalName":"alexw@contoso.com"}"#,
        )
    }

    /// `docs/graph-notes.md` §3.2 (v1.0 riskyuser-get-riskyuserhistoryitem).
    fn history_example() -> Map<String, Value> {
        object(
            r##"{"@odata.type":"#microsoft.graph.riskyUserHistoryItem","id":"41a31b00-3b3b-42d9-8f1c-6d4f14e74c69","isDeleted":false,"isGuest":false,"isProcessing":false,"riskLevel":"none","riskState":"remediated","riskDetail":"userPerformedSecuredPasswordReset","riskLastUpdatedDateTime":"2019-05-03T03:50:34.9565578Z","userDisplayName":"Allan Deyoung","userPrincipalName":"AllanD@contoso.OnMicrosoft.com","userId":"41a31b00-3b3b-42d9-8f1c-6d4f14e74c69","initiatedBy":"68ca8ec0-11f8-456b-a785-70d9936650d5","activity":{"riskEventTypes":[],"detail":"userPerformedSecuredPasswordReset"}}"##,
        )
    }

    #[test]
    fn the_documented_risky_user_parses() {
        let u = parse(&user_example()).unwrap();
        assert_eq!(u.id.as_str(), "c2b6c2b9-dddc-acd0-2b39-d519d803dbc3");
        assert_eq!(u.risk_level.unwrap().as_str(), "high");
        assert_eq!(u.risk_detail.unwrap().as_str(), "adminConfirmedSigninCompromised");
        assert_eq!(u.is_deleted, Some(true));
        assert_eq!(u.risk_last_updated_date_time.unwrap().ticks % 10_000_000, 7_872_426);
    }

    #[test]
    fn the_documented_history_item_parses() {
        let h = parse_history_item(&history_example()).unwrap();
        assert_eq!(h.risk_state.unwrap().as_str(), "remediated");
        assert_eq!(h.initiated_by.as_deref(), Some("68ca8ec0-11f8-456b-a785-70d9936650d5"));
        assert_eq!(h.user_id.unwrap().as_str(), "41a31b00-3b3b-42d9-8f1c-6d4f14e74c69");
        let activity = h.activity.unwrap();
        assert_eq!(activity.detail.unwrap().as_str(), "userPerformedSecuredPasswordReset");
        assert_eq!(activity.risk_event_types, Some(vec![]));
        let (v1, extra) = split_history_v1(history_example());
        assert_eq!(extra.keys().collect::<Vec<_>>(), ["@odata.type", "isGuest"]);
        assert_eq!(v1.len(), HISTORY_V1_PROPERTIES.len());
        // A history item is also a valid riskyUser (its base type).
        let (base, _) = split_v1(history_example());
        assert!(parse(&base).is_ok());
    }

    #[test]
    fn errors_name_the_path() {
        let mut d = user_example();
        d.insert("riskLevel".into(), "very high".into());
        assert!(parse(&d).unwrap_err().starts_with("riskLevel:"));
        let mut d = user_example();
        d.insert("id".into(), "alexw@contoso.com".into());
        assert!(parse(&d).unwrap_err().starts_with("id:"));
        let mut d = user_example();
        d.remove("id");
        assert!(parse(&d).unwrap_err().contains("id"));
        let mut d = history_example();
        d.insert("activity".into(), serde_json::json!({"detail": "admin said so"}));
        assert!(parse_history_item(&d).unwrap_err().starts_with("activity.detail:"));
        let mut d = history_example();
        d.insert("riskLastUpdatedDateTime".into(), "yesterday".into());
        assert!(parse_history_item(&d).unwrap_err().starts_with("riskLastUpdatedDateTime:"));
        let mut d = history_example();
        d.insert("activity".into(), serde_json::json!({"riskEventTypes": "leakedCredentials"}));
        assert!(parse_history_item(&d).unwrap_err().starts_with("activity.riskEventTypes:"));
    }
}
