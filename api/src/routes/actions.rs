//! `POST /{v1.0|beta}/identityProtection/riskyUsers/dismiss` and `.../confirmCompromised` with
//! `{"userIds": [...]}`: 204. Each changed user gets a new state, a history item and a directory
//! audit event, in one transaction (`storage::Store::apply_risky_user_action`).

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use domain::access::{self, Endpoint};
use domain::actions::{RiskyUserAction, parse_user_ids};
use futures_util::StreamExt;

use crate::auth::Caller;
use crate::error::{ApiError, RequestIds};
use crate::middleware::new_request_id;
use crate::state::AppState;

/// An action body is a list of at most 60 GUIDs: a few kilobytes at most.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The action named by the last path segment, if it is one.
#[must_use]
pub fn action_of(segment: &str) -> Option<RiskyUserAction> {
    RiskyUserAction::ALL.into_iter().find(|a| a.segment().eq_ignore_ascii_case(segment))
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Runs `action` for the caller.
pub async fn run(
    action: RiskyUserAction,
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.0;
    let json = is_json(&req);
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("The body could not be read: {e}.")))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge(format!(
                "The body is larger than {MAX_BODY_BYTES} bytes; an action takes at most {} user ids.",
                domain::actions::MAX_USER_IDS
            )));
        }
        body.extend_from_slice(&chunk);
    }
    let store = state.store.clone();
    let enforce = state.config.auth_enforce_scopes;
    // The action's correlation id is the request's `request-id` (random, new for every request, and
    // the one the response carries), so every request is a new action, and the ids of what it
    // writes are derived from it: a second attempt at the same request's write meets its ids.
    let request = req
        .extensions()
        .get::<RequestIds>()
        .map(|ids| ids.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(new_request_id);
    crate::observe::block(move || -> Result<(), ApiError> {
        let view = store.tenant_view(&principal.tenant)?;
        // Who may act is decided first; only then what they sent.
        access::authorize(&principal, Endpoint::RiskyUserActions, view.tier, enforce)?;
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "Send the body as Content-Type: application/json: {\"userIds\": [\"<user object id>\", ...]}.".into(),
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("The body is not valid JSON: {e}.")))?;
        let ids: Vec<String> =
            parse_user_ids(&value).map_err(ApiError::BadRequest)?.iter().map(|g| g.to_key()).collect();
        store.apply_risky_user_action(action, &principal, &ids, &request)?;
        Ok(())
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}
