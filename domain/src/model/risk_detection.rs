//! `microsoft.graph.riskDetection`, property for property as the v1.0 CSDL has it
//! (`docs/graph-notes.md` §3.3).
//!
//! Only `id` is non-nullable; every other property is an `Option` that may also be absent, the
//! timestamps included. `riskEventType` and `source` are free strings in the CSDL (Graph added
//! detection types faster than the `riskEventType` enum), and `additionalInfo` is a JSON array
//! written as a string. Unknown properties (the beta-only `riskType`, `mitreTechniqueId`) are not
//! rejected: the stored document keeps them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::enums::{
    ActivityType, EnumValue, RiskDetail, RiskDetectionTimingType, RiskLevel, RiskState, TokenIssuerType,
};
use super::sign_in::{DateTimeOffset, SignInLocation};
use crate::ids::GuidOrEmpty;

/// `microsoft.graph.riskDetection` (v1.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskDetection {
    /// Opaque (often 64 hexadecimal digits); never empty.
    pub id: String,
    #[serde(default)]
    pub activity: Option<EnumValue<ActivityType>>,
    #[serde(default)]
    pub activity_date_time: Option<DateTimeOffset>,
    /// A JSON array of `{"Key","Value"}` objects, as a string.
    #[serde(default)]
    pub additional_info: Option<String>,
    /// The sign-in's `correlationId`; null when the detection is not linked to a sign-in.
    #[serde(default)]
    pub correlation_id: Option<GuidOrEmpty>,
    #[serde(default)]
    pub detected_date_time: Option<DateTimeOffset>,
    #[serde(default)]
    pub detection_timing_type: Option<EnumValue<RiskDetectionTimingType>>,
    #[serde(default)]
    pub ip_address: Option<String>,
    #[serde(default)]
    pub last_updated_date_time: Option<DateTimeOffset>,
    #[serde(default)]
    pub location: Option<SignInLocation>,
    /// The sign-in's `id`; null when the detection is not linked to a sign-in.
    #[serde(default)]
    pub request_id: Option<GuidOrEmpty>,
    #[serde(default)]
    pub risk_detail: Option<EnumValue<RiskDetail>>,
    #[serde(default)]
    pub risk_event_type: Option<String>,
    #[serde(default)]
    pub risk_level: Option<EnumValue<RiskLevel>>,
    #[serde(default)]
    pub risk_state: Option<EnumValue<RiskState>>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub token_issuer_type: Option<EnumValue<TokenIssuerType>>,
    #[serde(default)]
    pub user_display_name: Option<String>,
    #[serde(default)]
    pub user_id: Option<GuidOrEmpty>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

/// The top-level properties of `riskDetection` in v1.0 (the CSDL's, plus the key `id`).
/// Properties outside this list are beta-only or newer and are served under `/beta` only.
pub const V1_PROPERTIES: &[&str] = &[
    "id",
    "activity",
    "activityDateTime",
    "additionalInfo",
    "correlationId",
    "detectedDateTime",
    "detectionTimingType",
    "ipAddress",
    "lastUpdatedDateTime",
    "location",
    "requestId",
    "riskDetail",
    "riskEventType",
    "riskLevel",
    "riskState",
    "source",
    "tokenIssuerType",
    "userDisplayName",
    "userId",
    "userPrincipalName",
];

/// Validates a Graph risk-detection document against the v1.0 schema.
///
/// # Errors
/// A message naming the property path and what is wrong, e.g.
/// `location.geoCoordinates.latitude: invalid type: string "x", expected f64`.
pub fn parse(doc: &Map<String, Value>) -> Result<RiskDetection, String> {
    let detection = super::deserialize_document::<RiskDetection>(doc)?;
    if detection.id.is_empty() {
        return Err("id: must not be empty".to_owned());
    }
    Ok(detection)
}

/// Splits a document into its v1.0 properties and the rest (beta-only or newer), each in the
/// order the producer sent them.
#[must_use]
pub fn split_v1(doc: Map<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    super::split_properties(doc, V1_PROPERTIES)
}

#[cfg(test)]
mod tests {

    use super::*;

    /// The v1.0 tutorial's example (`docs/graph-notes.md` §3.3), beta-only `riskType` included.
    fn example() -> Map<String, Value> {
        let v: Value = serde_json::from_str(
            r#"{"id":"d52a631815aaa527bf642b196715da5cf0f35b6879204ea5b5c99b21bd4c16f4","requestId":"06f7fd18-b8f1-407d-86a3-f6cbe3a4be00","correlationId":"2a38abff-5701-4073-a81e-fd3aac09cba3","riskType":"anonymizedIPAddress","riskEventType":"anonymizedIPAddress","riskState":"atRisk","riskLevel":"medium","riskDetail":"none","source":"IdentityProtection","detectionTimingType":"realtime","activity":"signin","tokenIssuerType":"AzureAD","ipAddress":"178.17.170.23","activityDateTime":"2020-11-03T20:51:34.6245276Z","detectedDateTime":"2020-11-03T20:51:34.6245276Z","lastUpdatedDateTime":"2020-11-03T20:53:12.1984203Z","userId":"4628e7df-dff3-407c-a08f-75f08c0806dc","userDisplayName":"MyTestUser1","userPrincipalName":"MyTestUser1@contoso.com","additionalInfo":"[{\"Key\":\"userAgent\",\"Value\":\"Mozilla/5.0 (Windows NT 10.0; rv:78.0) Gecko/20100101 Firefox/78.0\"}]","location":{"city":"Chisinau","state":"Chisinau","countryOrRegion":"MD","geoCoordinates":{"latitude":47.0269,"longitude":28.8416}}}"#,
        )
        .unwrap();
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_documented_example_parses() {
        let d = parse(&example()).unwrap();
        assert_eq!(d.risk_level.unwrap().as_str(), "medium");
        assert_eq!(d.detection_timing_type.unwrap().as_str(), "realtime");
        assert_eq!(d.activity.unwrap().as_str(), "signin");
        assert_eq!(d.token_issuer_type.unwrap().as_str(), "AzureAD");
        assert_eq!(d.request_id.unwrap().as_str(), "06f7fd18-b8f1-407d-86a3-f6cbe3a4be00");
        assert_eq!(d.location.unwrap().country_or_region.as_deref(), Some("MD"));
        let last = d.last_updated_date_time.unwrap().ticks;
        assert!(last > d.detected_date_time.unwrap().ticks);
        let info: Value = serde_json::from_str(&d.additional_info.unwrap()).unwrap();
        assert_eq!(info[0]["Key"], "userAgent");
        let (v1, extra) = split_v1(example());
        assert_eq!(extra.keys().collect::<Vec<_>>(), ["riskType"]);
        assert_eq!(v1.len(), V1_PROPERTIES.len());
    }

    #[test]
    fn a_user_level_detection_without_a_sign_in_parses() {
        let v = serde_json::json!({"id": "6c3e1b1d", "requestId": null, "correlationId": null, "activity": "user",
            "riskEventType": "leakedCredentials", "detectionTimingType": "offline", "ipAddress": null, "location": null});
        let d = parse(v.as_object().unwrap()).unwrap();
        assert!(d.request_id.is_none() && d.activity_date_time.is_none());
    }

    #[test]
    fn errors_name_the_path() {
        let mut d = example();
        d.insert("location".into(), serde_json::json!({"geoCoordinates": {"latitude": "north"}}));
        assert!(parse(&d).unwrap_err().starts_with("location.geoCoordinates.latitude:"));
        let mut d = example();
        d.insert("riskLevel".into(), 2.into());
        assert!(parse(&d).unwrap_err().starts_with("riskLevel:"));
        let mut d = example();
        // The display string one doc example shows is not a member name.
        d.insert("tokenIssuerType".into(), "Azure Active Directory".into());
        assert!(parse(&d).unwrap_err().contains("AzureAD, ADFederationServices"));
        let mut d = example();
        d.insert("requestId".into(), "not-a-request".into());
        assert!(parse(&d).unwrap_err().starts_with("requestId:"));
        let mut d = example();
        d.insert("detectedDateTime".into(), "soon".into());
        assert!(parse(&d).unwrap_err().starts_with("detectedDateTime:"));
        let mut d = example();
        d.remove("id");
        assert!(parse(&d).unwrap_err().contains("id"));
        d.insert("id".into(), "".into());
        assert_eq!(parse(&d).unwrap_err(), "id: must not be empty");
    }
}
