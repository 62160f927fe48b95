//! The field registry: one table per entity set saying, for every property path, its EDM type,
//! nullability, whether it can be filtered and sorted, and where storage keeps it. The validator,
//! the SQL compiler, the in-memory evaluator and (later) `$select`, CSV columns, the OpenAPI
//! parameters and `$metadata` all read these tables; nothing lists fields twice.

use crate::model::EnumDef;
use crate::model::enums::{
    ActivityType, AppliedConditionalAccessPolicyResult, ConditionalAccessStatus, GroupType, OperationResult,
    RiskDetail, RiskDetectionTimingType, RiskEventType, RiskLevel, RiskState, TokenIssuerType,
};
use crate::sets::SetKind;

/// The type of a property's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    String,
    Int32,
    Double,
    Boolean,
    DateTimeOffset,
    /// A Graph enum: its CSDL name and members.
    Enum {
        name: &'static str,
        members: &'static [&'static str],
    },
}

impl ValueType {
    /// The EDM name, for messages and `$metadata`.
    #[must_use]
    pub fn edm_name(self) -> String {
        match self {
            Self::String => "Edm.String".into(),
            Self::Int32 => "Edm.Int32".into(),
            Self::Double => "Edm.Double".into(),
            Self::Boolean => "Edm.Boolean".into(),
            Self::DateTimeOffset => "Edm.DateTimeOffset".into(),
            Self::Enum { name, .. } => format!("microsoft.graph.{name}"),
        }
    }

    /// Whether values compare as (case-insensitive) text.
    #[must_use]
    pub fn is_textual(self) -> bool {
        matches!(self, Self::String | Self::Enum { .. })
    }

    #[must_use]
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Int32 | Self::Double)
    }
}

const fn enum_type<E: EnumDef>() -> ValueType {
    ValueType::Enum { name: E::NAME, members: E::MEMBERS }
}

/// Where storage keeps a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A promoted column; text columns hold the lower-case value.
    Column(&'static str),
    /// A DateTimeOffset column holding 100-ns ticks.
    Ticks(&'static str),
    /// Inside the stored document, at this path of property names (compared case-insensitively).
    Document,
}

/// A filterable property of an entity (or of a collection's element).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The OData path, e.g. `status/errorCode`.
    pub path: &'static str,
    pub ty: ValueType,
    pub nullable: bool,
    pub sortable: bool,
    pub source: Source,
}

/// The element of a collection-valued property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element {
    /// A primitive (or enum) element, in child-table column `column` (unused for a JSON array).
    Primitive { ty: ValueType, column: &'static str },
    /// A complex element whose members are `fields` (paths relative to the element), each a
    /// column of the child table (`Source::Column`).
    Complex { fields: &'static [Field] },
}

/// A collection-valued property. A top-level collection is kept in a child table (one row per
/// element, `ordinal` = its index in the document's array), so that `any`/`all` become `EXISTS`
/// over indexed rows. A collection inside a complex element (`nested`) is read from the stored
/// document's JSON array: `EXISTS` over `json_each` / `jsonb_array_elements`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionField {
    pub path: &'static str,
    /// The child table; empty for a nested collection (which lives in the document only).
    pub table: &'static str,
    /// An extra discriminator when several collections share the table: `column = value`.
    pub discriminator: Option<(&'static str, i32)>,
    pub element: Element,
    /// The collections of each (complex) element, paths relative to the element; their element
    /// fields are `Source::Document`, read from the element's JSON.
    pub nested: &'static [CollectionField],
}

impl CollectionField {
    /// A collection of the element's JSON (no child table).
    const fn json(path: &'static str, element: Element) -> Self {
        Self { path, table: "", discriminator: None, element, nested: &[] }
    }

    /// Whether this collection's elements are child-table rows (else JSON array items).
    #[must_use]
    pub fn in_child_table(&self) -> bool {
        !self.table.is_empty()
    }

    /// The nested collection at `path` of each element (case-insensitive).
    #[must_use]
    pub fn nested(&self, path: &str) -> Option<&'static CollectionField> {
        self.nested.iter().find(|c| c.path.eq_ignore_ascii_case(path))
    }
}

/// An entity set and its registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntitySet {
    /// The set this registry describes (its routes, access, retention and masks).
    pub kind: SetKind,
    /// The path under the version, e.g. `auditLogs/signIns`.
    pub name: &'static str,
    /// The Graph type, e.g. `signIn`.
    pub type_name: &'static str,
    pub table: &'static str,
    /// The child tables' column naming the parent row.
    pub child_key: &'static str,
    pub fields: &'static [Field],
    pub collections: &'static [CollectionField],
    /// The field the default order and retention use.
    pub time_field: &'static str,
    pub default_top: usize,
    pub max_top: usize,
    /// The top-level properties served under `/v1.0` (and selectable there).
    pub v1_properties: &'static [&'static str],
}

impl EntitySet {
    /// The field at `path` (case-insensitive, as Graph matches property names).
    #[must_use]
    pub fn field(&self, path: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.path.eq_ignore_ascii_case(path))
    }

    /// The key property, which every sort order ends with. The registry lists it first (a test
    /// checks every set does).
    #[must_use]
    pub fn id_field(&self) -> &'static Field {
        self.fields.first().unwrap_or(KEY)
    }

    #[must_use]
    pub fn collection(&self, path: &str) -> Option<&'static CollectionField> {
        self.collections.iter().find(|c| c.path.eq_ignore_ascii_case(path))
    }

    /// Every property path that can be filtered, for messages.
    pub fn filterable_paths(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields.iter().map(|f| f.path).chain(self.collections.iter().map(|c| c.path))
    }
}

const fn column(path: &'static str, ty: ValueType, column: &'static str) -> Field {
    Field { path, ty, nullable: true, sortable: true, source: Source::Column(column) }
}

const fn document(path: &'static str, ty: ValueType) -> Field {
    Field { path, ty, nullable: true, sortable: false, source: Source::Document }
}

use ValueType::{Boolean, DateTimeOffset, Double, Int32, String as Str};

const SIGN_IN_FIELDS: &[Field] = &[
    Field { path: "id", ty: Str, nullable: false, sortable: true, source: Source::Column("id") },
    Field {
        path: "createdDateTime",
        ty: DateTimeOffset,
        nullable: false,
        sortable: true,
        source: Source::Ticks("created_ticks"),
    },
    column("userDisplayName", Str, "user_display_name"),
    column("userPrincipalName", Str, "user_principal_name"),
    Field { path: "userId", ty: Str, nullable: false, sortable: true, source: Source::Column("user_id") },
    column("appId", Str, "app_id"),
    column("appDisplayName", Str, "app_display_name"),
    column("ipAddress", Str, "ip_address"),
    column("clientAppUsed", Str, "client_app_used"),
    column("correlationId", Str, "correlation_id"),
    column("conditionalAccessStatus", enum_type::<ConditionalAccessStatus>(), "conditional_access_status"),
    column("isInteractive", Boolean, "is_interactive"),
    column("riskDetail", enum_type::<RiskDetail>(), "risk_detail"),
    column("riskLevelAggregated", enum_type::<RiskLevel>(), "risk_level_aggregated"),
    column("riskLevelDuringSignIn", enum_type::<RiskLevel>(), "risk_level_during_sign_in"),
    column("riskState", enum_type::<RiskState>(), "risk_state"),
    column("resourceDisplayName", Str, "resource_display_name"),
    column("resourceId", Str, "resource_id"),
    column("status/errorCode", Int32, "status_error_code"),
    document("status/failureReason", Str),
    document("status/additionalDetails", Str),
    column("deviceDetail/browser", Str, "device_browser"),
    column("deviceDetail/operatingSystem", Str, "device_operating_system"),
    document("deviceDetail/deviceId", Str),
    document("deviceDetail/displayName", Str),
    document("deviceDetail/isCompliant", Boolean),
    document("deviceDetail/isManaged", Boolean),
    document("deviceDetail/trustType", Str),
    column("location/city", Str, "location_city"),
    column("location/state", Str, "location_state"),
    column("location/countryOrRegion", Str, "location_country_or_region"),
    document("location/geoCoordinates/latitude", Double),
    document("location/geoCoordinates/longitude", Double),
    document("location/geoCoordinates/altitude", Double),
    column("servicePrincipalId", Str, "service_principal_id"),
    column("servicePrincipalName", Str, "service_principal_name"),
    column("userAgent", Str, "user_agent"),
    document("homeTenantId", Str),
    document("resourceTenantId", Str),
    document("authenticationAppDeviceDetails/appVersion", Str),
    document("authenticationAppDeviceDetails/clientApp", Str),
    document("authenticationAppDeviceDetails/deviceId", Str),
    document("authenticationAppDeviceDetails/operatingSystem", Str),
];

const CA_POLICY_FIELDS: &[Field] = &[
    Field { path: "id", ty: Str, nullable: true, sortable: false, source: Source::Column("policy_id") },
    Field { path: "displayName", ty: Str, nullable: true, sortable: false, source: Source::Column("display_name") },
    Field {
        path: "result",
        ty: enum_type::<AppliedConditionalAccessPolicyResult>(),
        nullable: true,
        sortable: false,
        source: Source::Column("result"),
    },
];

/// The string collections of an applied CA policy, read from its JSON (`p/enforcedGrantControls/any(g: g eq 'Mfa')`).
const CA_POLICY_COLLECTIONS: &[CollectionField] = &[
    CollectionField::json("enforcedGrantControls", Element::Primitive { ty: Str, column: "" }),
    CollectionField::json("enforcedSessionControls", Element::Primitive { ty: Str, column: "" }),
];

const SIGN_IN_COLLECTIONS: &[CollectionField] = &[
    CollectionField {
        path: "appliedConditionalAccessPolicies",
        table: "sign_in_ca_policies",
        discriminator: None,
        element: Element::Complex { fields: CA_POLICY_FIELDS },
        nested: CA_POLICY_COLLECTIONS,
    },
    CollectionField {
        path: "riskEventTypes",
        table: "sign_in_risk_event_types",
        discriminator: Some(("version", 1)),
        element: Element::Primitive { ty: enum_type::<RiskEventType>(), column: "value" },
        nested: &[],
    },
    CollectionField {
        path: "riskEventTypes_v2",
        table: "sign_in_risk_event_types",
        discriminator: Some(("version", 2)),
        element: Element::Primitive { ty: Str, column: "value" },
        nested: &[],
    },
];

/// `auditLogs/signIns`.
pub const SIGN_INS: EntitySet = EntitySet {
    kind: SetKind::SignIns,
    name: "auditLogs/signIns",
    type_name: "signIn",
    table: "sign_ins",
    child_key: "sign_in_id",
    fields: SIGN_IN_FIELDS,
    collections: SIGN_IN_COLLECTIONS,
    time_field: "createdDateTime",
    default_top: 1000,
    max_top: 1000,
    v1_properties: crate::model::sign_in::V1_PROPERTIES,
};

/// The key and the time of an entity set: every table keeps its set's time in `created_ticks`.
/// The key every set has.
const KEY: &Field = &key();

const fn key() -> Field {
    Field { path: "id", ty: Str, nullable: false, sortable: true, source: Source::Column("id") }
}

const fn time(path: &'static str) -> Field {
    Field { path, ty: DateTimeOffset, nullable: false, sortable: true, source: Source::Ticks("created_ticks") }
}

const fn ticks(path: &'static str, column: &'static str) -> Field {
    Field { path, ty: DateTimeOffset, nullable: true, sortable: true, source: Source::Ticks(column) }
}

const fn element(path: &'static str, ty: ValueType, column: &'static str) -> Field {
    Field { path, ty, nullable: true, sortable: false, source: Source::Column(column) }
}

const DIRECTORY_AUDIT_FIELDS: &[Field] = &[
    key(),
    time("activityDateTime"),
    column("activityDisplayName", Str, "activity_display_name"),
    column("category", Str, "category"),
    column("correlationId", Str, "correlation_id"),
    column("loggedByService", Str, "logged_by_service"),
    column("operationType", Str, "operation_type"),
    column("result", enum_type::<OperationResult>(), "result"),
    document("resultReason", Str),
    column("initiatedBy/user/id", Str, "initiated_by_user_id"),
    column("initiatedBy/user/displayName", Str, "initiated_by_user_display_name"),
    column("initiatedBy/user/userPrincipalName", Str, "initiated_by_user_principal_name"),
    document("initiatedBy/user/ipAddress", Str),
    column("initiatedBy/app/appId", Str, "initiated_by_app_id"),
    column("initiatedBy/app/displayName", Str, "initiated_by_app_display_name"),
    document("initiatedBy/app/servicePrincipalId", Str),
    document("initiatedBy/app/servicePrincipalName", Str),
];

const TARGET_RESOURCE_FIELDS: &[Field] = &[
    element("id", Str, "resource_id"),
    element("displayName", Str, "display_name"),
    element("type", Str, "kind"),
    element("userPrincipalName", Str, "user_principal_name"),
    element("groupType", enum_type::<GroupType>(), "group_type"),
];

const KEY_VALUE_FIELDS: &[Field] = &[element("key", Str, "detail_key"), element("value", Str, "detail_value")];

const MODIFIED_PROPERTY_FIELDS: &[Field] =
    &[document("displayName", Str), document("oldValue", Str), document("newValue", Str)];

/// A target's changed properties, read from its JSON (`t/modifiedProperties/any(m: ...)`).
const TARGET_RESOURCE_COLLECTIONS: &[CollectionField] =
    &[CollectionField::json("modifiedProperties", Element::Complex { fields: MODIFIED_PROPERTY_FIELDS })];

const DIRECTORY_AUDIT_COLLECTIONS: &[CollectionField] = &[
    CollectionField {
        path: "targetResources",
        table: "directory_audit_targets",
        discriminator: None,
        element: Element::Complex { fields: TARGET_RESOURCE_FIELDS },
        nested: TARGET_RESOURCE_COLLECTIONS,
    },
    CollectionField {
        path: "additionalDetails",
        table: "directory_audit_details",
        discriminator: None,
        element: Element::Complex { fields: KEY_VALUE_FIELDS },
        nested: &[],
    },
];

/// `auditLogs/directoryAudits`.
pub const DIRECTORY_AUDITS: EntitySet = EntitySet {
    kind: SetKind::DirectoryAudits,
    name: "auditLogs/directoryAudits",
    type_name: "directoryAudit",
    table: "directory_audits",
    child_key: "audit_id",
    fields: DIRECTORY_AUDIT_FIELDS,
    collections: DIRECTORY_AUDIT_COLLECTIONS,
    time_field: "activityDateTime",
    default_top: 1000,
    max_top: 1000,
    v1_properties: crate::model::directory_audit::V1_PROPERTIES,
};

const RISK_DETECTION_FIELDS: &[Field] = &[
    key(),
    time("detectedDateTime"),
    ticks("activityDateTime", "activity_ticks"),
    ticks("lastUpdatedDateTime", "last_updated_ticks"),
    column("requestId", Str, "request_id"),
    column("correlationId", Str, "correlation_id"),
    column("riskEventType", Str, "risk_event_type"),
    column("riskState", enum_type::<RiskState>(), "risk_state"),
    column("riskLevel", enum_type::<RiskLevel>(), "risk_level"),
    column("riskDetail", enum_type::<RiskDetail>(), "risk_detail"),
    column("source", Str, "source"),
    column("detectionTimingType", enum_type::<RiskDetectionTimingType>(), "detection_timing_type"),
    column("activity", enum_type::<ActivityType>(), "activity"),
    column("tokenIssuerType", enum_type::<TokenIssuerType>(), "token_issuer_type"),
    column("ipAddress", Str, "ip_address"),
    column("userId", Str, "user_id"),
    column("userDisplayName", Str, "user_display_name"),
    column("userPrincipalName", Str, "user_principal_name"),
    column("location/city", Str, "location_city"),
    column("location/state", Str, "location_state"),
    column("location/countryOrRegion", Str, "location_country_or_region"),
    document("location/geoCoordinates/latitude", Double),
    document("location/geoCoordinates/longitude", Double),
    document("additionalInfo", Str),
];

/// `identityProtection/riskDetections`.
pub const RISK_DETECTIONS: EntitySet = EntitySet {
    kind: SetKind::RiskDetections,
    name: "identityProtection/riskDetections",
    type_name: "riskDetection",
    table: "risk_detections",
    child_key: "detection_id",
    fields: RISK_DETECTION_FIELDS,
    collections: &[],
    time_field: "detectedDateTime",
    default_top: 20,
    max_top: 500,
    v1_properties: crate::model::risk_detection::V1_PROPERTIES,
};

/// The properties of `riskyUser`, which `riskyUserHistoryItem` inherits, then `extra`.
macro_rules! risky_user_fields {
    ($($extra:expr),* $(,)?) => {
        &[
            key(),
            time("riskLastUpdatedDateTime"),
            column("isDeleted", Boolean, "is_deleted"),
            column("isProcessing", Boolean, "is_processing"),
            column("riskDetail", enum_type::<RiskDetail>(), "risk_detail"),
            column("riskLevel", enum_type::<RiskLevel>(), "risk_level"),
            column("riskState", enum_type::<RiskState>(), "risk_state"),
            column("userDisplayName", Str, "user_display_name"),
            column("userPrincipalName", Str, "user_principal_name"),
            $($extra),*
        ]
    };
}

const RISKY_USER_FIELDS: &[Field] = risky_user_fields!();

/// `identityProtection/riskyUsers`.
pub const RISKY_USERS: EntitySet = EntitySet {
    kind: SetKind::RiskyUsers,
    name: "identityProtection/riskyUsers",
    type_name: "riskyUser",
    table: "risky_users",
    child_key: "risky_user_id",
    fields: RISKY_USER_FIELDS,
    collections: &[],
    time_field: "riskLastUpdatedDateTime",
    default_top: 20,
    max_top: 500,
    v1_properties: crate::model::risky_user::V1_PROPERTIES,
};

const RISKY_USER_HISTORY_FIELDS: &[Field] = risky_user_fields!(
    column("userId", Str, "user_id"),
    column("initiatedBy", Str, "initiated_by"),
    document("activity/detail", enum_type::<RiskDetail>()),
);

/// `identityProtection/riskyUsers/{id}/history`: append-only, one item per change of the user's risk.
pub const RISKY_USER_HISTORY: EntitySet = EntitySet {
    kind: SetKind::RiskyUserHistory,
    name: "identityProtection/riskyUsers/history",
    type_name: "riskyUserHistoryItem",
    table: "risky_user_history",
    child_key: "history_id",
    fields: RISKY_USER_HISTORY_FIELDS,
    collections: &[],
    time_field: "riskLastUpdatedDateTime",
    default_top: 20,
    max_top: 500,
    v1_properties: crate::model::risky_user::HISTORY_V1_PROPERTIES,
};

/// Every entity set idtrail serves, in the order of [`SetKind::ALL`].
pub fn all_sets() -> impl Iterator<Item = &'static EntitySet> {
    SetKind::ALL.into_iter().map(SetKind::registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_paths_are_v1_properties() {
        for f in SIGN_INS.fields {
            let top = f.path.split('/').next().unwrap();
            assert!(crate::model::sign_in::V1_PROPERTIES.contains(&top), "{}", f.path);
        }
        for c in SIGN_INS.collections {
            assert!(crate::model::sign_in::V1_PROPERTIES.contains(&c.path), "{}", c.path);
        }
    }

    #[test]
    fn the_key_comes_first_and_the_time_second() {
        for set in all_sets() {
            assert_eq!(set.fields.first().map(|f| f.path), Some("id"), "{} lists its key first", set.name);
            assert!(!set.id_field().nullable && set.id_field().sortable);
            let time = set.field(set.time_field).unwrap();
            assert_eq!(time.source, Source::Ticks("created_ticks"), "{}", set.name);
            assert!(!time.nullable);
        }
    }

    #[test]
    fn every_path_is_a_v1_property_of_its_type() {
        for set in all_sets() {
            for path in set.filterable_paths() {
                let top = path.split('/').next().unwrap();
                assert!(set.v1_properties.contains(&top), "{}: {path}", set.name);
            }
        }
    }

    #[test]
    fn lookups_are_case_insensitive() {
        assert_eq!(SIGN_INS.field("STATUS/errorcode").unwrap().path, "status/errorCode");
        assert!(SIGN_INS.collection("appliedconditionalaccesspolicies").is_some());
    }
}
