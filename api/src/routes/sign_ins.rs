//! `GET /{v1.0|beta}/auditLogs/signIns` and `.../signIns/{id}`.

use actix_web::{HttpRequest, HttpResponse, web};
use storage::SignInPage;

use super::{ApiVersion, base_url, collection_body, entity_body, next_link};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::paging;
use crate::query;
use crate::state::AppState;

/// Graph's page size for sign-ins: default and maximum 1,000.
pub const MAX_TOP: usize = 1000;
const SUPPORTED_OPTIONS: &[&str] = &["top", "skiptoken"];
const ENTITY_SET: &str = "auditLogs/signIns";

fn forbidden() -> ApiError {
    ApiError::Forbidden {
        code: "Authentication_MSGraphPermissionMissing",
        message: "Calling principal does not have required MSGraph permissions AuditLog.Read.All".into(),
    }
}

pub async fn list(req: HttpRequest, caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let version = ApiVersion::of(&req);
    let options = query::parse(req.query_string(), SUPPORTED_OPTIONS, MAX_TOP)?;
    let principal = caller.0;
    let scope = principal.sign_in_scope().ok_or_else(forbidden)?;
    let top = options.top.unwrap_or(MAX_TOP);
    let binding = paging::binding(&principal.binding(), ENTITY_SET, &options.canonical());
    let after = options.skiptoken.as_deref().map(|t| state.pager.open(&binding, t)).transpose()?;

    let store = state.store.clone();
    let tenant = principal.tenant.clone();
    let mut docs =
        web::block(move || store.sign_in_page(&SignInPage { tenant: &tenant, scope: &scope, after, limit: top + 1 }))
            .await??;

    let base = base_url(&req, &state);
    let next = if docs.len() > top {
        docs.truncate(top);
        docs.last().map(|last| {
            let token = state.pager.issue(&binding, last.created_ticks, &last.id);
            next_link(&base, req.path(), &options, top, &token)
        })
    } else {
        None
    };
    let context = format!("{base}/{}/$metadata#{ENTITY_SET}", version.segment());
    Ok(HttpResponse::Ok().content_type("application/json; odata.metadata=minimal").body(collection_body(
        &context,
        next.as_deref(),
        &docs,
        version,
    )))
}

pub async fn get(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let version = ApiVersion::of(&req);
    query::parse(req.query_string(), &[], MAX_TOP)?;
    let principal = caller.0;
    let scope = principal.sign_in_scope().ok_or_else(forbidden)?;
    let id = id.into_inner();
    let store = state.store.clone();
    let tenant = principal.tenant.clone();
    let lookup = id.clone();
    let doc = web::block(move || store.sign_in(&tenant, &scope, &lookup)).await??;
    let doc = doc.ok_or_else(|| {
        ApiError::NotFound(format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ))
    })?;
    let context = format!("{}/{}/$metadata#{ENTITY_SET}/$entity", base_url(&req, &state), version.segment());
    Ok(HttpResponse::Ok()
        .content_type("application/json; odata.metadata=minimal")
        .body(entity_body(&context, &doc, version)))
}
