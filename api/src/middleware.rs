//! Request-wide behaviour: Graph's case-insensitive path segments, request ids on every response,
//! and the Graph error envelope on every error, including actix's own.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::http::uri::PathAndQuery;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse};
use domain::sets::SetKind;

use crate::error::{ApiError, RequestIds, code_for_status, header_value, inner_error};

/// Path segments we route on besides the entity sets' own (`SetKind::path_segments`).
const CANONICAL_SEGMENTS: &[&str] = &["dismiss", "confirmCompromised", "ingest", "beta", "v1.0", "$metadata", "$count"];

/// Rewrites known segments to their canonical case, so `/v1.0/auditlogs/signins` routes as Graph
/// would route it. Ids and unknown segments are left alone.
fn canonical_path(path: &str) -> Option<String> {
    let mut changed = false;
    let mut out = String::with_capacity(path.len());
    let trimmed = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    changed |= trimmed.len() != path.len();
    for (i, segment) in trimmed.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let sets = SetKind::ALL.into_iter().flat_map(SetKind::path_segments);
        match CANONICAL_SEGMENTS.iter().copied().chain(sets).find(|c| c.eq_ignore_ascii_case(segment)) {
            Some(c) if c != segment => {
                out.push_str(c);
                changed = true;
            }
            _ => out.push_str(segment),
        }
    }
    changed.then_some(out)
}

/// Makes request ids, canonicalises the path, stamps the ids on the response and turns every
/// error into the Graph envelope.
pub async fn graph_envelope(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = new_request_id();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map_or_else(|| request_id.clone(), str::to_owned);
    let ids = RequestIds { request_id, client_request_id };
    req.extensions_mut().insert(ids.clone());

    if let Some(path) = canonical_path(req.path()) {
        let pq = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        if let Ok(pq) = PathAndQuery::from_maybe_shared(pq) {
            let mut parts = req.head().uri.clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                req.match_info_mut().get_mut().update(&uri);
                req.head_mut().uri = uri;
            }
        }
    }

    // Handlers' and extractors' errors arrive as responses carrying the error. An `Err` here
    // comes from the middleware inside this one (`ratelimit::enforce`, which answers its refusals
    // as responses too) and is rendered by actix.
    let res = next.call(req).await?.map_into_boxed_body();
    let mut res =
        if res.status().is_client_error() || res.status().is_server_error() { rebuild_error(res, &ids) } else { res };
    let headers = res.headers_mut();
    headers.insert(actix_web::http::header::HeaderName::from_static("request-id"), header_value(&ids.request_id));
    headers.insert(
        actix_web::http::header::HeaderName::from_static("client-request-id"),
        header_value(&ids.client_request_id),
    );
    Ok(res)
}

fn rebuild_error(res: ServiceResponse<BoxBody>, ids: &RequestIds) -> ServiceResponse<BoxBody> {
    let status = res.status();
    let api_error = res.response().error().and_then(|e| e.as_error::<ApiError>()).cloned();
    let (req, old) = res.into_parts();
    let new = match api_error {
        Some(e) => {
            if let ApiError::Internal(cause) = &e {
                tracing::error!(request_id = %ids.request_id, %cause, "internal error");
            }
            e.to_response(ids)
        }
        None => {
            let message = old.error().map_or_else(
                || status.canonical_reason().unwrap_or("Error").to_owned(),
                std::string::ToString::to_string,
            );
            let mut builder = HttpResponse::build(status);
            for (name, value) in old.headers() {
                if name != actix_web::http::header::CONTENT_TYPE && name != actix_web::http::header::CONTENT_LENGTH {
                    builder.insert_header((name.clone(), value.clone()));
                }
            }
            builder.json(serde_json::json!({
                "error": {"code": code_for_status(status), "message": message, "innerError": inner_error(ids)}
            }))
        }
    };
    ServiceResponse::new(req, new)
}

/// A fresh request id in GUID form.
#[must_use]
pub fn new_request_id() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_segments_get_graph_case() {
        assert_eq!(canonical_path("/V1.0/AUDITLOGS/signins").as_deref(), Some("/v1.0/auditLogs/signIns"));
        assert_eq!(canonical_path("/v1.0/auditLogs/signIns"), None);
        assert_eq!(canonical_path("/v1.0/auditLogs/signIns/").as_deref(), Some("/v1.0/auditLogs/signIns"));
        assert_eq!(
            canonical_path("/beta/auditlogs/signins/ABC-def").as_deref(),
            Some("/beta/auditLogs/signIns/ABC-def")
        );
    }

    #[test]
    fn request_ids_look_like_guids() {
        assert!(domain::ids::is_guid(&new_request_id()));
    }
}
