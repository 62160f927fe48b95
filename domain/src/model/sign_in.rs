//! `microsoft.graph.signIn` and its complex types, property for property as the v1.0 CSDL has them.
//!
//! Non-nullable properties (`id`, `createdDateTime`, `userId`) are plain fields; every nullable one
//! is an `Option` that may also be absent. Unknown top-level properties (beta-only ones, or ones a
//! newer Graph adds) are not rejected: the stored document keeps them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::enums::{
    AppliedConditionalAccessPolicyResult, ConditionalAccessStatus, EnumValue, RiskDetail, RiskEventType, RiskLevel,
    RiskState,
};
use crate::ids::{Guid, GuidOrEmpty};
use crate::time::parse_ticks;

/// A Graph DateTimeOffset as sent, with its exact value in 100-ns ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct DateTimeOffset {
    pub text: String,
    pub ticks: i64,
}

impl Serialize for DateTimeOffset {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for DateTimeOffset {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let ticks = parse_ticks(&text).map_err(serde::de::Error::custom)?;
        Ok(Self { text, ticks })
    }
}

/// `microsoft.graph.signIn` (v1.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignIn {
    pub id: Guid,
    pub created_date_time: DateTimeOffset,
    #[serde(default)]
    pub user_display_name: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    pub user_id: Guid,
    #[serde(default)]
    pub app_id: Option<GuidOrEmpty>,
    #[serde(default)]
    pub app_display_name: Option<String>,
    #[serde(default)]
    pub ip_address: Option<String>,
    #[serde(default)]
    pub client_app_used: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<GuidOrEmpty>,
    #[serde(default)]
    pub conditional_access_status: Option<EnumValue<ConditionalAccessStatus>>,
    #[serde(default)]
    pub applied_conditional_access_policies: Option<Vec<AppliedConditionalAccessPolicy>>,
    #[serde(default)]
    pub authentication_app_device_details: Option<AuthenticationAppDeviceDetails>,
    #[serde(default)]
    pub is_interactive: Option<bool>,
    #[serde(default)]
    pub device_detail: Option<DeviceDetail>,
    #[serde(default)]
    pub home_tenant_id: Option<GuidOrEmpty>,
    #[serde(default)]
    pub location: Option<SignInLocation>,
    #[serde(default)]
    pub resource_display_name: Option<String>,
    #[serde(default)]
    pub resource_id: Option<GuidOrEmpty>,
    #[serde(default)]
    pub resource_tenant_id: Option<GuidOrEmpty>,
    #[serde(default)]
    pub risk_detail: Option<EnumValue<RiskDetail>>,
    #[serde(default)]
    pub risk_event_types: Option<Vec<EnumValue<RiskEventType>>>,
    #[serde(default, rename = "riskEventTypes_v2")]
    pub risk_event_types_v2: Option<Vec<String>>,
    #[serde(default)]
    pub risk_level_aggregated: Option<EnumValue<RiskLevel>>,
    #[serde(default)]
    pub risk_level_during_sign_in: Option<EnumValue<RiskLevel>>,
    #[serde(default)]
    pub risk_state: Option<EnumValue<RiskState>>,
    #[serde(default)]
    pub service_principal_id: Option<GuidOrEmpty>,
    #[serde(default)]
    pub service_principal_name: Option<String>,
    #[serde(default)]
    pub status: Option<SignInStatus>,
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// `microsoft.graph.appliedConditionalAccessPolicy`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedConditionalAccessPolicy {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub enforced_grant_controls: Option<Vec<String>>,
    #[serde(default)]
    pub enforced_session_controls: Option<Vec<String>>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub result: Option<EnumValue<AppliedConditionalAccessPolicyResult>>,
}

/// `microsoft.graph.authenticationAppDeviceDetails`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationAppDeviceDetails {
    #[serde(default)]
    pub app_version: Option<String>,
    #[serde(default)]
    pub client_app: Option<String>,
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub operating_system: Option<String>,
}

/// `microsoft.graph.deviceDetail`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceDetail {
    #[serde(default)]
    pub browser: Option<String>,
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub is_compliant: Option<bool>,
    #[serde(default)]
    pub is_managed: Option<bool>,
    #[serde(default)]
    pub operating_system: Option<String>,
    #[serde(default)]
    pub trust_type: Option<String>,
}

/// `microsoft.graph.signInLocation`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInLocation {
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub country_or_region: Option<String>,
    #[serde(default)]
    pub geo_coordinates: Option<GeoCoordinates>,
    #[serde(default)]
    pub state: Option<String>,
}

/// `microsoft.graph.geoCoordinates`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeoCoordinates {
    #[serde(default)]
    pub altitude: Option<f64>,
    #[serde(default)]
    pub latitude: Option<f64>,
    #[serde(default)]
    pub longitude: Option<f64>,
}

/// `microsoft.graph.signInStatus`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInStatus {
    #[serde(default)]
    pub additional_details: Option<String>,
    #[serde(default)]
    pub error_code: Option<i32>,
    #[serde(default)]
    pub failure_reason: Option<String>,
}

/// The top-level properties of `signIn` in v1.0 (the CSDL's, plus the key `id`). Properties outside
/// this list are beta-only or newer and are served under `/beta` only.
pub const V1_PROPERTIES: &[&str] = &[
    "id",
    "appDisplayName",
    "appId",
    "appliedConditionalAccessPolicies",
    "authenticationAppDeviceDetails",
    "clientAppUsed",
    "conditionalAccessStatus",
    "correlationId",
    "createdDateTime",
    "deviceDetail",
    "homeTenantId",
    "ipAddress",
    "isInteractive",
    "location",
    "resourceDisplayName",
    "resourceId",
    "resourceTenantId",
    "riskDetail",
    "riskEventTypes",
    "riskEventTypes_v2",
    "riskLevelAggregated",
    "riskLevelDuringSignIn",
    "riskState",
    "servicePrincipalId",
    "servicePrincipalName",
    "status",
    "userAgent",
    "userDisplayName",
    "userId",
    "userPrincipalName",
];

/// Validates a Graph sign-in document against the v1.0 schema.
///
/// # Errors
/// A message naming the property path and what is wrong, e.g.
/// `status.errorCode: invalid type: string "x", expected i32`.
pub fn parse(doc: &Map<String, Value>) -> Result<SignIn, String> {
    super::deserialize_document::<SignIn>(doc)
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

    fn example() -> Map<String, Value> {
        let v: Value = serde_json::from_str(
            r#"{
  "id":"66ea54eb-6301-4ee5-be62-ff5a759b0100","createdDateTime":"2020-03-13T19:15:41.6195833Z",
  "userDisplayName":"Test Contoso","userPrincipalName":"testaccount1@contoso.com","userId":"26be570a-ae82-4189-b4e2-a37c6808512d",
  "appId":"de8bc8b5-d9f9-48b1-a8ad-b748da725064","appDisplayName":"Graph explorer","ipAddress":"131.107.159.37",
  "clientAppUsed":"Browser","correlationId":"d79f5bee-5860-4832-928f-3133e22ae912","conditionalAccessStatus":"notApplied",
  "isInteractive":true,"riskDetail":"none","riskLevelAggregated":"none","riskLevelDuringSignIn":"none","riskState":"none",
  "riskEventTypes":[],"resourceDisplayName":"Microsoft Graph","resourceId":"00000003-0000-0000-c000-000000000000",
  "status":{"errorCode":0,"failureReason":null,"additionalDetails":null},
  "deviceDetail":{"deviceId":"","displayName":null,"operatingSystem":"Windows 10","browser":"Edge 80.0.361","isCompliant":null,"isManaged":null,"trustType":null},
  "location":{"city":"Redmond","state":"Washington","countryOrRegion":"US","geoCoordinates":{"altitude":null,"latitude":47.68050003051758,"longitude":-122.12094116210938}},
  "appliedConditionalAccessPolicies":[{"id":"de7e60eb-ed89-4d73-8205-2227def6b7c9","displayName":"SharePoint limited access for guest workers","enforcedGrantControls":[],"enforcedSessionControls":[],"result":"notEnabled"}]
 }"#,
        )
        .unwrap();
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_documented_example_parses() {
        let s = parse(&example()).unwrap();
        assert_eq!(s.created_date_time.ticks % 10_000_000, 6_195_833);
        assert_eq!(s.status.unwrap().error_code, Some(0));
    }

    #[test]
    fn errors_name_the_path() {
        let mut d = example();
        d.insert("status".into(), serde_json::json!({"errorCode": "x"}));
        let e = parse(&d).unwrap_err();
        assert!(e.starts_with("status.errorCode:"), "{e}");
        let mut d = example();
        d.remove("userId");
        assert!(parse(&d).unwrap_err().contains("userId"));
        let mut d = example();
        d.insert("userId".into(), Value::Null);
        assert!(parse(&d).is_err());
        let mut d = example();
        d.insert("createdDateTime".into(), "yesterday".into());
        assert!(parse(&d).unwrap_err().starts_with("createdDateTime:"));
    }

    #[test]
    fn beta_properties_are_split_off() {
        let mut d = example();
        d.insert("signInEventTypes".into(), serde_json::json!(["interactiveUser"]));
        let (v1, extra) = split_v1(d);
        assert!(v1.contains_key("userId") && !v1.contains_key("signInEventTypes"));
        assert_eq!(extra.len(), 1);
    }
}
