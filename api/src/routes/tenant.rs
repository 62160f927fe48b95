//! `GET /idtrail/tenant`: the caller's tenant, its license tier, what the tier allows and how far
//! back each data set reaches. Any authenticated principal of the tenant may read it.

use actix_web::{HttpResponse, web};
use domain::ids::LicenseTier;
use domain::policy::DataSet;
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn show(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tenant_id = caller.0.tenant.clone();
    let store = state.store.clone();
    let (tenant, view) = web::block(move || -> Result<_, storage::StorageError> {
        Ok((store.tenant(&tenant_id)?, store.tenant_view(&tenant_id)?))
    })
    .await??;
    let tier = view.tier;
    let now = state.store.clock().now_ticks();
    let retention = state.store.retention();
    let mut sets = serde_json::Map::new();
    for set in DataSet::ALL {
        sets.insert(
            set.name().to_owned(),
            json!({
                "days": retention.days(set, tier),
                "windowStart": domain::time::format_ticks(retention.window_start(set, tier, now)),
            }),
        );
    }
    sets.insert(
        "riskyUsers".into(),
        json!({
            "days": null,
            "rule": "kept while at risk; once remediated or dismissed, for the riskDetections window",
            "closedWindowStart": domain::time::format_ticks(retention.window_start(DataSet::RiskDetections, tier, now)),
        }),
    );
    Ok(HttpResponse::Ok().json(json!({
        "id": caller.0.tenant.as_str(),
        "displayName": tenant.and_then(|t| t.display_name),
        "license": tier.as_str(),
        "retention": sets,
        "features": {
            "tenantWideSignIns": tier.is_premium(),
            "ownSignIns": true,
            "signInRiskDetails": if tier == LicenseTier::P2 { "visible" } else { "hidden" },
            "riskDetections": tier.is_premium(),
            "riskyUsers": tier == LicenseTier::P2,
            "directoryAudits": true,
        },
    })))
}
