//! `microsoft.graph.directoryAudit` and its complex types, property for property as the v1.0 CSDL
//! has them (`docs/graph-notes.md` §2).
//!
//! Non-nullable properties (`id`, `activityDateTime`, `activityDisplayName`, `category`,
//! `initiatedBy`) are plain fields; every nullable one is an `Option` that may also be absent.
//! Unknown properties are not rejected: the stored document keeps them. `userIdentity` is an open
//! type, so its extra members (`roles`, `homeTenantId`, ...) are kept in [`UserIdentity::extra`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::enums::{EnumValue, GroupType, OperationResult};
use super::sign_in::DateTimeOffset;
use crate::ids::GuidOrEmpty;

/// `microsoft.graph.directoryAudit` (v1.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryAudit {
    /// Opaque, e.g. `Directory_<guid>_<suffix>_<number>`; never empty.
    pub id: String,
    pub activity_date_time: DateTimeOffset,
    pub activity_display_name: String,
    #[serde(default)]
    pub additional_details: Option<Vec<KeyValue>>,
    pub category: String,
    #[serde(default)]
    pub correlation_id: Option<GuidOrEmpty>,
    pub initiated_by: AuditActivityInitiator,
    #[serde(default)]
    pub logged_by_service: Option<String>,
    #[serde(default)]
    pub operation_type: Option<String>,
    #[serde(default)]
    pub result: Option<EnumValue<OperationResult>>,
    #[serde(default)]
    pub result_reason: Option<String>,
    #[serde(default)]
    pub target_resources: Option<Vec<TargetResource>>,
}

/// `microsoft.graph.auditActivityInitiator`: a user or an app (the other is null).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditActivityInitiator {
    #[serde(default)]
    pub app: Option<AppIdentity>,
    #[serde(default)]
    pub user: Option<UserIdentity>,
}

/// `microsoft.graph.appIdentity`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppIdentity {
    #[serde(default)]
    pub app_id: Option<GuidOrEmpty>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub service_principal_id: Option<GuidOrEmpty>,
    #[serde(default)]
    pub service_principal_name: Option<String>,
}

/// `microsoft.graph.userIdentity` (base `identity`; both open types).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(default)]
    pub display_name: Option<String>,
    /// The user's object id.
    #[serde(default)]
    pub id: Option<GuidOrEmpty>,
    #[serde(default)]
    pub ip_address: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// Dynamic members of the open type, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `microsoft.graph.targetResource`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetResource {
    #[serde(default)]
    pub display_name: Option<String>,
    /// Set when `type` is `Group`.
    #[serde(default)]
    pub group_type: Option<EnumValue<GroupType>>,
    /// Not always a GUID (`Directory` and `Other` targets), so kept as text.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub modified_properties: Option<Vec<ModifiedProperty>>,
    /// `User`, `Group`, `Application`, `ServicePrincipal`, `Device`, `Directory`, `Role`, `Policy`,
    /// `Other`, ...
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Set when `type` is `User`.
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

/// `microsoft.graph.modifiedProperty`: values are strings, often JSON-encoded (`"[\"x\"]"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModifiedProperty {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub new_value: Option<String>,
    #[serde(default)]
    pub old_value: Option<String>,
}

/// `microsoft.graph.keyValue`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyValue {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

/// The top-level properties of `directoryAudit` in v1.0 (the CSDL's, plus the key `id`).
/// Properties outside this list (the beta-only `userAgent`, newer ones) are served under `/beta` only.
pub const V1_PROPERTIES: &[&str] = &[
    "id",
    "activityDateTime",
    "activityDisplayName",
    "additionalDetails",
    "category",
    "correlationId",
    "initiatedBy",
    "loggedByService",
    "operationType",
    "result",
    "resultReason",
    "targetResources",
];

/// Validates a Graph directory-audit document against the v1.0 schema.
///
/// # Errors
/// A message naming the property path and what is wrong, e.g.
/// `initiatedBy.user.id: '42' is not a GUID` or `id: must not be empty`.
pub fn parse(doc: &Map<String, Value>) -> Result<DirectoryAudit, String> {
    let audit = super::deserialize_document::<DirectoryAudit>(doc)?;
    if audit.id.is_empty() {
        return Err("id: must not be empty".to_owned());
    }
    Ok(audit)
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

    /// Graph's documented example (`docs/graph-notes.md` §2.2), with its quirks (`"Type"`).
    fn example() -> Map<String, Value> {
        let v: Value = serde_json::from_str(
            r#"{"id":"id","category":"UserManagement","correlationId":"da159bfb-54fa-4092-8a38-6e1fa7870e30","result":"success",
  "resultReason":"Successfully added member to group","activityDisplayName":"Add member to group",
  "activityDateTime":"2018-01-09T21:20:02.7215374Z","loggedByService":"Core Directory",
  "initiatedBy":{"user":{"id":"728309ae-1a37-4937-9afe-e35d964db09b","displayName":"Audry Oliver","userPrincipalName":"bob@wingtiptoysonline.com","ipAddress":"127.0.0.1"},"app":null},
  "targetResources":[{"id":"ef7e527d-6c92-4234-8c6d-cf6fdfb57f95","displayName":"Example.com","Type":"Group",
     "modifiedProperties":[{"displayName":"Action Client Name","oldValue":null,"newValue":"DirectorySync"}],"groupType":"unifiedGroups"},
    {"id":"1f0e98f5-3161-4c6b-9b50-d488572f2bb7","displayName":null,"Type":"User","modifiedProperties":[],"userPrincipalName":"bob@contoso.com"}],
  "additionalDetails":[{"key":"Additional Detail Name","value":"Additional Detail Value"}]}"#,
        )
        .unwrap();
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_documented_example_parses() {
        let a = parse(&example()).unwrap();
        assert_eq!(a.activity_date_time.ticks % 10_000_000, 7_215_374);
        assert_eq!(a.result.unwrap().as_str(), "success");
        let user = a.initiated_by.user.unwrap();
        assert_eq!(user.user_principal_name.as_deref(), Some("bob@wingtiptoysonline.com"));
        assert!(a.initiated_by.app.is_none());
        let targets = a.target_resources.unwrap();
        assert_eq!(targets[0].group_type.as_ref().unwrap().as_str(), "unifiedGroups");
        assert_eq!(targets[0].modified_properties.as_ref().unwrap()[0].new_value.as_deref(), Some("DirectorySync"));
        // The doc's capitalised `"Type"` is not the property `type`.
        assert!(targets[0].kind.is_none());
        assert_eq!(targets[1].user_principal_name.as_deref(), Some("bob@contoso.com"));
        assert_eq!(a.additional_details.unwrap()[0].key.as_deref(), Some("Additional Detail Name"));
    }

    #[test]
    fn a_real_conditional_access_change_parses_with_open_type_members() {
        let v = serde_json::json!({
            "id": "IPCGraph_346b264f-3d36-4c81-aaff-499fbaf093cf_BCDHJ_24857857", "category": "Policy",
            "correlationId": "346b264f-3d36-4c81-aaff-499fbaf093cf", "result": "success", "resultReason": null,
            "activityDisplayName": "Update conditional access policy", "activityDateTime": "2023-10-13T17:40:31.937Z",
            "loggedByService": "Conditional Access", "operationType": "Update", "userAgent": null,
            "initiatedBy": {"user": {"id": "53f9c53a-7a22-4f96-a370-244699092ae3", "displayName": null,
                "userPrincipalName": "admin@contoso.com", "ipAddress": null, "roles": []}},
            "targetResources": [{"id": "d63bcb96-c7de-4aaf-845d-49f3df67551c", "displayName": "TestWillDelete",
                "type": "Policy", "modifiedProperties": [{"displayName": "ConditionalAccessPolicy",
                "oldValue": "{\"state\":\"enabled\"}", "newValue": "{\"state\":\"disabled\"}"}],
                "administrativeUnits": []}],
            "additionalDetails": [{"key": "Category", "value": "Conditional Access"}]
        });
        let a = parse(v.as_object().unwrap()).unwrap();
        let user = a.initiated_by.user.unwrap();
        assert_eq!(user.extra.get("roles"), Some(&serde_json::json!([])));
        assert_eq!(a.target_resources.unwrap()[0].kind.as_deref(), Some("Policy"));
        let (v1, extra) = split_v1(v.as_object().unwrap().clone());
        assert_eq!(extra.keys().collect::<Vec<_>>(), ["userAgent"]);
        assert_eq!(v1.len(), 12);
    }

    #[test]
    fn errors_name_the_path() {
        let mut d = example();
        d.insert("initiatedBy".into(), serde_json::json!({"user": {"id": "42"}}));
        let e = parse(&d).unwrap_err();
        assert!(e.starts_with("initiatedBy.user.id:"), "{e}");
        let mut d = example();
        d.insert("targetResources".into(), serde_json::json!([{"groupType": "huge group"}]));
        assert!(parse(&d).unwrap_err().starts_with("targetResources[0].groupType:"));
        for required in ["activityDateTime", "activityDisplayName", "category", "initiatedBy", "id"] {
            let mut d = example();
            d.remove(required);
            assert!(parse(&d).unwrap_err().contains(required), "{required}");
            let mut d = example();
            d.insert(required.into(), Value::Null);
            assert!(parse(&d).is_err(), "{required}");
        }
        let mut d = example();
        d.insert("id".into(), "".into());
        assert_eq!(parse(&d).unwrap_err(), "id: must not be empty");
        let mut d = example();
        d.insert("result".into(), "partial success".into());
        assert!(parse(&d).unwrap_err().starts_with("result:"));
    }
}
