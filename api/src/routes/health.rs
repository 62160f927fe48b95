//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the database answers).

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    crate::observe::block(move || store.ping()).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready", "database": state.store.backend().name()})))
}
