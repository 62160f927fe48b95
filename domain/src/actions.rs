//! The admin actions on risky users (`dismiss`, `confirmCompromised`): what they change, the
//! history item each change appends, and the directory audit event Identity Protection writes for
//! it (`docs/graph-notes.md` §3.4). Storage applies all three in one transaction.

use serde_json::{Map, Value, json};

use crate::ids::{Guid, derived_guid};
use crate::principal::{Principal, Subject};
use crate::time::format_ticks;

/// At most this many user ids per request, as Graph.
pub const MAX_USER_IDS: usize = 60;

/// An action on a set of risky users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskyUserAction {
    Dismiss,
    ConfirmCompromised,
}

impl RiskyUserAction {
    pub const ALL: [Self; 2] = [Self::Dismiss, Self::ConfirmCompromised];

    /// The action's path segment (`dismiss`, `confirmCompromised`).
    #[must_use]
    pub fn segment(self) -> &'static str {
        match self {
            Self::Dismiss => "dismiss",
            Self::ConfirmCompromised => "confirmCompromised",
        }
    }

    /// The state, level and detail a user has after the action.
    #[must_use]
    pub fn outcome(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Dismiss => ("dismissed", "none", "adminDismissedAllRiskForUser"),
            Self::ConfirmCompromised => ("confirmedCompromised", "high", "adminConfirmedUserCompromised"),
        }
    }

    /// The activity Identity Protection logs in the directory audit.
    #[must_use]
    pub fn audit_activity(self) -> &'static str {
        match self {
            Self::Dismiss => "DismissUser",
            Self::ConfirmCompromised => "ConfirmAccountCompromised",
        }
    }
}

/// The audit category and service of Identity Protection's own events.
pub const AUDIT_CATEGORY: &str = "IdentityProtection";
pub const AUDIT_SERVICE: &str = "Identity Protection";

/// Reads `{"userIds": [...]}`: 1 to [`MAX_USER_IDS`] GUIDs, duplicates folded.
///
/// # Errors
/// A message naming what is wrong with the body.
pub fn parse_user_ids(body: &Value) -> Result<Vec<Guid>, String> {
    let Value::Object(map) = body else {
        return Err("The body must be a JSON object: {\"userIds\": [\"<user object id>\", ...]}.".into());
    };
    if let Some(other) = map.keys().find(|k| *k != "userIds") {
        return Err(format!("'{other}' is not a parameter of this action; the only parameter is userIds."));
    }
    let Some(ids) = map.get("userIds") else {
        return Err("The body must carry userIds: a list of user object ids.".into());
    };
    let Value::Array(ids) = ids else {
        return Err("userIds must be an array of user object ids (GUID strings).".into());
    };
    if ids.is_empty() {
        return Err("userIds is empty; name at least one user.".into());
    }
    if ids.len() > MAX_USER_IDS {
        return Err(format!("userIds holds {} ids; at most {MAX_USER_IDS} are accepted per request.", ids.len()));
    }
    let mut out: Vec<Guid> = Vec::with_capacity(ids.len());
    for (i, v) in ids.iter().enumerate() {
        let guid = v
            .as_str()
            .and_then(|s| Guid::parse(s).ok())
            .ok_or_else(|| format!("userIds[{i}]: {v} is not a user object id (a GUID string)."))?;
        if !out.iter().any(|g| g.to_key() == guid.to_key()) {
            out.push(guid);
        }
    }
    Ok(out)
}

/// The id of the actor, as history items' `initiatedBy` holds it.
#[must_use]
pub fn actor_id(p: &Principal) -> String {
    match &p.subject {
        Subject::User { object_id, .. } => object_id.as_str().to_owned(),
        Subject::App { app_id } => app_id.clone().unwrap_or_default(),
    }
}

/// What one action does to one user, as documents ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The user's new `riskyUser` document.
    pub user: Map<String, Value>,
    /// The `riskyUserHistoryItem` appended.
    pub history: Map<String, Value>,
    /// The `directoryAudit` event written.
    pub audit: Map<String, Value>,
}

/// Applies `action` by `actor` at `now` (ticks) to the stored `user` document. `request` names
/// the request (its correlation id), so the ids of what it writes are derived, not random.
#[must_use]
pub fn apply(
    action: RiskyUserAction,
    actor: &Principal,
    user: &Map<String, Value>,
    now: i64,
    request: &str,
) -> Applied {
    let (state, level, detail) = action.outcome();
    let at = format_ticks(now);
    let user_id = user.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut updated = user.clone();
    updated.insert("riskState".into(), state.into());
    updated.insert("riskLevel".into(), level.into());
    updated.insert("riskDetail".into(), detail.into());
    updated.insert("riskLastUpdatedDateTime".into(), at.clone().into());
    updated.insert("isProcessing".into(), false.into());

    let mut history = updated.clone();
    let tenant = actor.tenant.as_str();
    history.insert("id".into(), derived_guid(&[tenant, &user_id, request, action.segment(), "history"]).into());
    history.insert("userId".into(), user_id.clone().into());
    history.insert("initiatedBy".into(), actor_id(actor).into());
    history.insert("activity".into(), json!({"riskEventTypes": [], "detail": detail}));

    let initiated_by = match &actor.subject {
        Subject::User { object_id, principal_name } => json!({
            "user": {"id": object_id.as_str(), "displayName": null, "userPrincipalName": principal_name, "ipAddress": null},
            "app": null,
        }),
        Subject::App { app_id } => json!({
            "user": null,
            "app": {"appId": app_id, "displayName": null, "servicePrincipalId": null, "servicePrincipalName": null},
        }),
    };
    let audit = json!({
        "id": format!("IPC_{}", derived_guid(&[tenant, &user_id, request, action.segment(), "audit"])),
        "category": AUDIT_CATEGORY,
        "correlationId": request,
        "result": "success",
        "resultReason": "",
        "activityDisplayName": action.audit_activity(),
        "activityDateTime": at,
        "loggedByService": AUDIT_SERVICE,
        "operationType": "Update",
        "initiatedBy": initiated_by,
        "targetResources": [{
            "id": user_id,
            "displayName": user.get("userDisplayName").cloned().unwrap_or(Value::Null),
            "type": "User",
            "userPrincipalName": user.get("userPrincipalName").cloned().unwrap_or(Value::Null),
            "groupType": null,
            "modifiedProperties": [
                {"displayName": "RiskState", "oldValue": user.get("riskState").cloned().unwrap_or(Value::Null), "newValue": state},
                {"displayName": "RiskLevel", "oldValue": user.get("riskLevel").cloned().unwrap_or(Value::Null), "newValue": level},
                {"displayName": "RiskDetail", "oldValue": user.get("riskDetail").cloned().unwrap_or(Value::Null), "newValue": detail},
            ],
        }],
        "additionalDetails": [],
    });
    let audit = match audit {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    Applied { user: updated, history, audit }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;

    fn admin() -> Principal {
        Principal {
            tenant: TenantId::parse("b4c9f32e-2a6d-4c8e-9f1a-7d3e5c2b8a61").unwrap(),
            subject: Subject::User {
                object_id: Guid::parse("68ca8ec0-11f8-456b-a785-70d9936650d5").unwrap(),
                principal_name: Some("admin@contoso.com".into()),
            },
            roles: vec![],
            app_permissions: vec![],
            scopes: vec![],
        }
    }

    #[test]
    fn bodies_are_checked() {
        let ok = parse_user_ids(
            &json!({"userIds": ["04487ee0-f4f6-4e7f-8999-facc5a30e232", "04487EE0-F4F6-4E7F-8999-FACC5A30E232"]}),
        );
        assert_eq!(ok.unwrap().len(), 1);
        for bad in [
            json!([]),
            json!({}),
            json!({"userIds": []}),
            json!({"userIds": "x"}),
            json!({"userIds": ["not-a-guid"]}),
            json!({"userIds": [1]}),
            json!({"userIds": ["04487ee0-f4f6-4e7f-8999-facc5a30e232"], "extra": 1}),
            json!({"userIds": vec!["04487ee0-f4f6-4e7f-8999-facc5a30e232"; 61]}),
        ] {
            assert!(parse_user_ids(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dismiss_writes_state_history_and_audit() {
        let user = json!({"id": "41a31b00-3b3b-42d9-8f1c-6d4f14e74c69", "riskState": "atRisk", "riskLevel": "high",
            "riskDetail": "none", "userDisplayName": "Allan", "userPrincipalName": "allan@contoso.com",
            "riskLastUpdatedDateTime": "2026-01-01T00:00:00Z", "isProcessing": false, "isDeleted": false});
        let Value::Object(user) = user else { unreachable!() };
        let a = apply(RiskyUserAction::Dismiss, &admin(), &user, 0, "c0ffee00-0000-4000-8000-000000000000");
        assert_eq!(a.user["riskState"], "dismissed");
        assert_eq!(a.user["riskLevel"], "none");
        assert_eq!(a.user["riskDetail"], "adminDismissedAllRiskForUser");
        assert_eq!(a.history["initiatedBy"], "68ca8ec0-11f8-456b-a785-70d9936650d5");
        assert_eq!(a.history["userId"], "41a31b00-3b3b-42d9-8f1c-6d4f14e74c69");
        assert_ne!(a.history["id"], a.user["id"]);
        assert_eq!(a.audit["initiatedBy"]["user"]["userPrincipalName"], "admin@contoso.com");
        assert_eq!(a.audit["targetResources"][0]["id"], "41a31b00-3b3b-42d9-8f1c-6d4f14e74c69");
        crate::model::directory_audit::parse(&a.audit).unwrap();
        crate::model::risky_user::parse_history_item(&a.history).unwrap();
        let c = apply(RiskyUserAction::ConfirmCompromised, &admin(), &user, 0, "c0ffee00-0000-4000-8000-000000000000");
        assert_eq!(
            (c.user["riskState"].as_str(), c.user["riskLevel"].as_str()),
            (Some("confirmedCompromised"), Some("high"))
        );
    }
}
