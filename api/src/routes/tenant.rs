//! `GET /idtrail/tenant`: the caller's tenant, its license tier, what the tier allows and how far
//! back each data set reaches. Any authenticated principal of the tenant may read it.

use actix_web::{HttpResponse, web};
use domain::access;
use domain::ids::LicenseTier;
use domain::sets::{Retention, SetKind};
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn show(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tenant_id = caller.0.tenant.clone();
    let store = state.store.clone();
    let (tenant, view) = crate::observe::block(move || -> Result<_, storage::StorageError> {
        Ok((store.tenant(&tenant_id)?, store.tenant_view(&tenant_id)?))
    })
    .await??;
    let tier = view.tier;
    let now = state.store.clock().now_ticks();
    let retention = state.store.retention();
    let mut sets = serde_json::Map::new();
    for kind in SetKind::ALL {
        let window = |table| domain::time::format_ticks(retention.window_start(table, tier, now));
        let entry = match kind.retention() {
            Retention::Window(table) => json!({ "days": retention.days(table, tier), "windowStart": window(table) }),
            Retention::WhileOpen(table) => json!({
                "days": null,
                "rule": format!("kept while at risk; once remediated or dismissed, for the {} window", table.name()),
                "closedWindowStart": window(table),
            }),
            // Shown with its parent (a risky user's history lives as long as the user).
            Retention::WithParent(_) => continue,
        };
        sets.insert(kind.segment().to_owned(), entry);
    }
    Ok(HttpResponse::Ok().json(json!({
        "id": caller.0.tenant.as_str(),
        "displayName": tenant.and_then(|t| t.display_name),
        "license": tier.as_str(),
        "retention": sets,
        "features": features(tier),
    })))
}

/// What the tier allows, from each set's row of the authorization matrix.
fn features(tier: LicenseTier) -> serde_json::Value {
    let allows = |kind: SetKind| access::rule(kind.endpoint()).is_none_or(|r| tier >= r.license);
    let mut out = serde_json::Map::new();
    out.insert("tenantWideSignIns".into(), allows(SetKind::SignIns).into());
    out.insert("ownSignIns".into(), true.into());
    let risk_details = if SetKind::SignIns.masks(tier).is_empty() { "visible" } else { "hidden" };
    out.insert("signInRiskDetails".into(), risk_details.into());
    for kind in SetKind::ALL.into_iter().filter(|k| k.parent().is_none() && *k != SetKind::SignIns) {
        out.insert(kind.segment().to_owned(), allows(kind).into());
    }
    out.into()
}
