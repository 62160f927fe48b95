//! The columns of a CSV export, one table per entity set, named as the Azure portal's Download
//! names them (`docs/graph-notes.md` §11), and how each cell is read from a document as the caller
//! sees it (masks and omissions already applied). Every cell that comes from text is neutralised
//! against spreadsheet formula injection. Pure: no CSV writing, no I/O.

use std::borrow::Cow;

use serde_json::Value;

use crate::sets::SetKind;

/// How a column's cell is read from a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// The value at a property path (`status/errorCode`): text as is, numbers and booleans as
    /// JSON writes them, null or absent as empty, anything else as its JSON text.
    Path(&'static str),
    /// A location object: "City, State, CC", empty parts left out.
    Location(&'static str),
    /// "Success" when the error code at the path is 0, "Failure" otherwise, empty without one.
    Outcome(&'static str),
    /// A collection: its elements (or each element's member) joined with ", ".
    List(&'static str, Option<&'static str>),
    /// A collection of `{key, value}`: `key: value` joined with "; ".
    KeyValues(&'static str),
    /// A property with no portal column (only through `$select`): its value like `Path`.
    Property(String),
}

/// One column of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub header: Cow<'static, str>,
    pub cell: Cell,
}

const fn col(header: &'static str, cell: Cell) -> Column {
    Column { header: Cow::Borrowed(header), cell }
}

use Cell::{KeyValues, List, Location, Outcome, Path};

/// Sign-ins: the portal's interactive sign-in header for the v1.0 properties idtrail has (same
/// names, same order, without the portal's trailing spaces), then the service-principal and risk
/// properties in the portal's style.
const SIGN_IN_COLUMNS: &[Column] = &[
    col("Date (UTC)", Path("createdDateTime")),
    col("Request ID", Path("id")),
    col("User agent", Path("userAgent")),
    col("Correlation ID", Path("correlationId")),
    col("User ID", Path("userId")),
    col("User", Path("userDisplayName")),
    col("Username", Path("userPrincipalName")),
    col("Application", Path("appDisplayName")),
    col("Application ID", Path("appId")),
    col("Resource", Path("resourceDisplayName")),
    col("Resource ID", Path("resourceId")),
    col("Resource tenant ID", Path("resourceTenantId")),
    col("Home tenant ID", Path("homeTenantId")),
    col("IP address", Path("ipAddress")),
    col("Location", Location("location")),
    col("Status", Outcome("status/errorCode")),
    col("Sign-in error code", Path("status/errorCode")),
    col("Failure reason", Path("status/failureReason")),
    col("Client app", Path("clientAppUsed")),
    col("Device ID", Path("deviceDetail/deviceId")),
    col("Browser", Path("deviceDetail/browser")),
    col("Operating System", Path("deviceDetail/operatingSystem")),
    col("Compliant", Path("deviceDetail/isCompliant")),
    col("Managed", Path("deviceDetail/isManaged")),
    col("Join Type", Path("deviceDetail/trustType")),
    col("Conditional Access", Path("conditionalAccessStatus")),
    col("Conditional Access policies", List("appliedConditionalAccessPolicies", Some("displayName"))),
    col("Service principal ID", Path("servicePrincipalId")),
    col("Service principal name", Path("servicePrincipalName")),
    col("Interactive", Path("isInteractive")),
    col("Risk state", Path("riskState")),
    col("Risk level (aggregated)", Path("riskLevelAggregated")),
    col("Risk level (during sign-in)", Path("riskLevelDuringSignIn")),
    col("Risk detail", Path("riskDetail")),
    col("Risk event types", List("riskEventTypes_v2", None)),
    col("Risk event types (v1)", List("riskEventTypes", None)),
    col("Authenticator app", Path("authenticationAppDeviceDetails/clientApp")),
    col("Authenticator app version", Path("authenticationAppDeviceDetails/appVersion")),
    col("Authenticator app operating system", Path("authenticationAppDeviceDetails/operatingSystem")),
    col("Authenticator app device ID", Path("authenticationAppDeviceDetails/deviceId")),
];

const DIRECTORY_AUDIT_COLUMNS: &[Column] = &[
    col("Date (UTC)", Path("activityDateTime")),
    col("Activity ID", Path("id")),
    col("Correlation ID", Path("correlationId")),
    col("Service", Path("loggedByService")),
    col("Category", Path("category")),
    col("Activity", Path("activityDisplayName")),
    col("Operation type", Path("operationType")),
    col("Result", Path("result")),
    col("Result reason", Path("resultReason")),
    col("Actor", Path("initiatedBy/user/displayName")),
    col("Actor user principal name", Path("initiatedBy/user/userPrincipalName")),
    col("Actor object ID", Path("initiatedBy/user/id")),
    col("IP address", Path("initiatedBy/user/ipAddress")),
    col("Actor application", Path("initiatedBy/app/displayName")),
    col("Actor application ID", Path("initiatedBy/app/appId")),
    col("Actor service principal ID", Path("initiatedBy/app/servicePrincipalId")),
    col("Actor service principal name", Path("initiatedBy/app/servicePrincipalName")),
    col("Targets", List("targetResources", Some("displayName"))),
    col("Target IDs", List("targetResources", Some("id"))),
    col("Additional details", KeyValues("additionalDetails")),
];

const RISK_DETECTION_COLUMNS: &[Column] = &[
    col("Detection time (UTC)", Path("detectedDateTime")),
    col("Detection ID", Path("id")),
    col("Request ID", Path("requestId")),
    col("Correlation ID", Path("correlationId")),
    col("User", Path("userDisplayName")),
    col("Username", Path("userPrincipalName")),
    col("User ID", Path("userId")),
    col("Detection type", Path("riskEventType")),
    col("Risk state", Path("riskState")),
    col("Risk level", Path("riskLevel")),
    col("Risk detail", Path("riskDetail")),
    col("Source", Path("source")),
    col("Detection timing type", Path("detectionTimingType")),
    col("Activity", Path("activity")),
    col("Activity time (UTC)", Path("activityDateTime")),
    col("Last updated (UTC)", Path("lastUpdatedDateTime")),
    col("Token issuer type", Path("tokenIssuerType")),
    col("IP address", Path("ipAddress")),
    col("Location", Location("location")),
    col("Additional info", Path("additionalInfo")),
];

/// The columns every risky user and history item has.
macro_rules! risky_user_columns {
    ($($extra:expr),* $(,)?) => {
        &[
            col("User", Path("userDisplayName")),
            col("Username", Path("userPrincipalName")),
            col("Risk state", Path("riskState")),
            col("Risk level", Path("riskLevel")),
            col("Risk detail", Path("riskDetail")),
            col("Risk last updated (UTC)", Path("riskLastUpdatedDateTime")),
            col("Deleted", Path("isDeleted")),
            col("Processing", Path("isProcessing")),
            $($extra),*
        ]
    };
}

const RISKY_USER_COLUMNS: &[Column] = risky_user_columns!(col("User ID", Path("id")));

const RISKY_USER_HISTORY_COLUMNS: &[Column] = risky_user_columns!(
    col("User ID", Path("userId")),
    col("History item ID", Path("id")),
    col("Initiated by", Path("initiatedBy")),
    col("Activity", Path("activity/detail")),
    col("Risk event types", List("activity/riskEventTypes", None)),
);

impl SetKind {
    /// Every column of the set's CSV export, in the portal's order.
    #[must_use]
    pub fn csv_columns(self) -> &'static [Column] {
        match self {
            Self::SignIns => SIGN_IN_COLUMNS,
            Self::DirectoryAudits => DIRECTORY_AUDIT_COLUMNS,
            Self::RiskDetections => RISK_DETECTION_COLUMNS,
            Self::RiskyUsers => RISKY_USER_COLUMNS,
            Self::RiskyUserHistory => RISKY_USER_HISTORY_COLUMNS,
        }
    }

    /// The first part of an export's file name: `SignIns_2026-12-05T10-00Z.csv`.
    #[must_use]
    pub fn export_name(self) -> &'static str {
        match self {
            Self::SignIns => "SignIns",
            Self::DirectoryAudits => "DirectoryAudits",
            Self::RiskDetections => "RiskDetections",
            Self::RiskyUsers => "RiskyUsers",
            Self::RiskyUserHistory => "RiskyUserHistory",
        }
    }
}

impl Cell {
    /// The top-level property the cell reads (what `$select` names).
    #[must_use]
    pub fn property(&self) -> &str {
        let path = match self {
            Path(p) | Location(p) | Outcome(p) | List(p, _) | KeyValues(p) => p,
            Self::Property(p) => p.as_str(),
        };
        path.split('/').next().unwrap_or(path)
    }

    /// The cell's text for `doc` (a document as the caller sees it), neutralised against formula
    /// injection when it comes from text.
    #[must_use]
    pub fn text(&self, doc: &Value) -> String {
        match self {
            Path(p) => scalar(at(doc, p)),
            Self::Property(p) => scalar(doc.get(p.as_str())),
            Location(p) => {
                let loc = at(doc, p);
                let part = |k: &str| loc.and_then(|l| l.get(k)).and_then(Value::as_str).filter(|s| !s.is_empty());
                let parts: Vec<&str> = ["city", "state", "countryOrRegion"].into_iter().filter_map(part).collect();
                neutralise(parts.join(", "))
            }
            Outcome(p) => match at(doc, p).and_then(Value::as_i64) {
                Some(0) => "Success".into(),
                Some(_) => "Failure".into(),
                None => String::new(),
            },
            List(p, member) => {
                let items = at(doc, p).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                let texts: Vec<String> = items
                    .iter()
                    .map(|item| raw(member.map_or(Some(item), |m| item.get(m))))
                    .filter(|s| !s.is_empty())
                    .collect();
                neutralise(texts.join(", "))
            }
            KeyValues(p) => {
                let items = at(doc, p).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                let texts: Vec<String> =
                    items.iter().map(|item| format!("{}: {}", raw(item.get("key")), raw(item.get("value")))).collect();
                neutralise(texts.join("; "))
            }
        }
    }
}

/// The value at a `/`-separated path.
fn at<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('/').try_fold(doc, |v, segment| v.get(segment))
}

/// A value as text, without neutralising.
fn raw(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A value as its cell: text neutralised, numbers and booleans as they are.
fn scalar(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => neutralise(s.clone()),
        Some(Value::Array(_) | Value::Object(_)) => neutralise(raw(v)),
        other => raw(other),
    }
}

/// OWASP's CSV-injection defence: a cell a spreadsheet would read as a formula (starting with
/// `=`, `+`, `-`, `@`, tab or carriage return) is prefixed with `'`, so it shows as text.
#[must_use]
pub fn neutralise(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text }
}

/// The columns of an export of `set`: all of them, or with `$select` those of the selected
/// properties in the order selected (a property with no portal column gets one named after it).
#[must_use]
pub fn columns(set: SetKind, select: Option<&[String]>) -> Vec<Column> {
    let all = set.csv_columns();
    let Some(select) = select else { return all.to_vec() };
    let mut out = Vec::new();
    for property in select {
        let mut of_property = all.iter().filter(|c| c.cell.property().eq_ignore_ascii_case(property)).peekable();
        if of_property.peek().is_none() {
            out.push(Column { header: Cow::Owned(property.clone()), cell: Cell::Property(property.clone()) });
        }
        out.extend(of_property.cloned());
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_column_reads_a_property_the_set_has_and_headers_are_unique() {
        for set in SetKind::ALL {
            let registry = set.registry();
            let mut headers = std::collections::HashSet::new();
            for c in set.csv_columns() {
                assert!(headers.insert(c.header.as_ref()), "{}: {} twice", registry.name, c.header);
                let property = c.cell.property();
                assert!(
                    registry.v1_properties.contains(&property),
                    "{}: column {} reads {property}, not a v1.0 property",
                    registry.name,
                    c.header
                );
                if let Path(p) = c.cell
                    && p.contains('/')
                    && !p.starts_with("authenticationAppDeviceDetails")
                    && !p.starts_with("activity/")
                    && !p.starts_with("status/")
                {
                    assert!(registry.field(p).is_some(), "{}: {p} is not in the registry", registry.name);
                }
            }
            for p in registry.v1_properties {
                assert!(
                    set.csv_columns().iter().any(|c| c.cell.property() == *p),
                    "{}: no column for {p}",
                    registry.name
                );
            }
        }
    }

    #[test]
    fn cells_read_like_the_portal() {
        let doc = json!({
            "userDisplayName": "=HYPERLINK(\"http://x\")",
            "status": {"errorCode": 50126},
            "location": {"city": "Redmond", "state": "", "countryOrRegion": "US", "geoCoordinates": {"latitude": -1.5}},
            "appliedConditionalAccessPolicies": [{"displayName": "A"}, {"displayName": "B"}],
            "isInteractive": true,
        });
        assert_eq!(Path("userDisplayName").text(&doc), "'=HYPERLINK(\"http://x\")");
        assert_eq!(Outcome("status/errorCode").text(&doc), "Failure");
        assert_eq!(Path("status/errorCode").text(&doc), "50126");
        assert_eq!(Location("location").text(&doc), "Redmond, US");
        assert_eq!(Path("location/geoCoordinates/latitude").text(&doc), "-1.5");
        assert_eq!(List("appliedConditionalAccessPolicies", Some("displayName")).text(&doc), "A, B");
        assert_eq!(Path("isInteractive").text(&doc), "true");
        assert_eq!(Path("userId").text(&doc), "");
        for bad in ["+1", "-1", "@x", "\tx", "\rx"] {
            assert!(neutralise(bad.into()).starts_with('\''), "{bad:?}");
        }
        assert_eq!(neutralise("plain".into()), "plain");
    }

    #[test]
    fn select_picks_and_orders_columns_by_property() {
        let select = vec!["status".to_owned(), "userDisplayName".to_owned(), "madeUp".to_owned()];
        let headers: Vec<String> =
            columns(SetKind::SignIns, Some(&select)).into_iter().map(|c| c.header.into_owned()).collect();
        assert_eq!(headers, ["Status", "Sign-in error code", "Failure reason", "User", "madeUp"]);
        assert_eq!(columns(SetKind::SignIns, None).len(), SIGN_IN_COLUMNS.len());
    }
}
