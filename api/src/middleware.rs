//! Request-wide behaviour: Graph's case-insensitive path segments, request ids on every response,
//! and the Graph error envelope on every error, including actix's own.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::http::uri::PathAndQuery;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse};
use domain::sets::SetKind;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::error::{ApiError, RequestIds, code_for_status, header_value, inner_error};

/// Path segments we route on besides the entity sets' own (`SetKind::path_segments`).
const CANONICAL_SEGMENTS: &[&str] = &["dismiss", "confirmCompromised", "ingest", "beta", "v1.0", "$metadata", "$count"];

/// Characters re-escaped when a decoded segment goes back into the URI: what a path may not hold
/// literally, and `%` itself (so the router's own decoding gives back the same segment).
const SEGMENT_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The path every spelling of a route shares, so that the rate limiter (which picks its family
/// from the path) and the router see the same route: percent-escapes decoded, empty and `.`
/// segments dropped, `..` resolved, no trailing slash, and known segments in Graph's case
/// (`/v1.0/auditlogs/signins` routes as Graph would route it; ids and unknown segments keep their
/// case). `None` when the path is already in that form.
///
/// # Errors
/// A segment whose escapes decode to `/`, a control character or invalid UTF-8: no route has one.
fn canonical_path(path: &str) -> Result<Option<String>, ApiError> {
    let mut segments: Vec<String> = Vec::new();
    for raw in path.split('/') {
        let decoded = percent_decode_str(raw).decode_utf8().map_err(|_| {
            ApiError::BadRequest(format!("The path segment '{raw}' is not UTF-8 once its %-escapes are decoded."))
        })?;
        if decoded.contains('/') || decoded.chars().any(char::is_control) {
            return Err(ApiError::BadRequest(format!(
                "The path segment '{raw}' escapes a '/' or a control character, which no route takes."
            )));
        }
        match decoded.as_ref() {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            segment => {
                let sets = SetKind::ALL.into_iter().flat_map(SetKind::path_segments);
                let known = CANONICAL_SEGMENTS.iter().copied().chain(sets).find(|c| c.eq_ignore_ascii_case(segment));
                segments.push(known.map_or_else(|| segment.to_owned(), str::to_owned));
            }
        }
    }
    // Graph's older beta paths `/beta/riskyUsers` and `/beta/riskDetections`, which its docs still
    // show, are aliases of the ones under `identityProtection/`.
    if segments.first().is_some_and(|s| s == "beta")
        && segments.get(1).is_some_and(|s| s == "riskyUsers" || s == "riskDetections")
    {
        segments.insert(1, "identityProtection".to_owned());
    }
    let mut out = String::with_capacity(path.len());
    for segment in &segments {
        out.push('/');
        out.extend(utf8_percent_encode(segment, SEGMENT_ESCAPES));
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok((out != path).then_some(out))
}

/// Makes request ids, canonicalises the path, stamps the ids on the response and turns every
/// error into the Graph envelope.
pub async fn graph_envelope(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let ids = request_ids(&req);

    let canonical = match canonical_path(req.path()) {
        Ok(path) => path,
        Err(e) => {
            let res = req.error_response(e).map_into_boxed_body();
            return Ok(finish(rebuild_error(res, &ids), &ids));
        }
    };
    if let Some(path) = canonical {
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
    let res =
        if res.status().is_client_error() || res.status().is_server_error() { rebuild_error(res, &ids) } else { res };
    Ok(finish(res, &ids))
}

/// The request's ids, made (and kept in its extensions) by the first middleware that asks: a fresh
/// request id, and the caller's `client-request-id` when it is 1 to 128 visible ASCII characters
/// (else the request id).
pub fn request_ids(req: &ServiceRequest) -> RequestIds {
    if let Some(ids) = req.extensions().get::<RequestIds>() {
        return ids.clone();
    }
    let request_id = new_request_id();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map_or_else(|| request_id.clone(), str::to_owned);
    let ids = RequestIds { request_id, client_request_id };
    req.extensions_mut().insert(ids.clone());
    ids
}

/// Stamps the request ids on a response.
fn finish(mut res: ServiceResponse<BoxBody>, ids: &RequestIds) -> ServiceResponse<BoxBody> {
    let headers = res.headers_mut();
    headers.insert(actix_web::http::header::HeaderName::from_static("request-id"), header_value(&ids.request_id));
    headers.insert(
        actix_web::http::header::HeaderName::from_static("client-request-id"),
        header_value(&ids.client_request_id),
    );
    res
}

fn rebuild_error(res: ServiceResponse<BoxBody>, ids: &RequestIds) -> ServiceResponse<BoxBody> {
    let status = res.status();
    let api_error = res.response().error().and_then(|e| e.as_error::<ApiError>()).cloned();
    let (req, old) = res.into_parts();
    let new = match api_error {
        Some(ApiError::QueryBudget { budget_ms: None }) => {
            let budget_ms = req
                .app_data::<actix_web::web::Data<crate::state::AppState>>()
                .map(|state| state.config.statement_timeout_ms);
            ApiError::QueryBudget { budget_ms }.to_response(ids)
        }
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
        let canonical = |p: &str| canonical_path(p).unwrap();
        assert_eq!(canonical("/V1.0/AUDITLOGS/signins").as_deref(), Some("/v1.0/auditLogs/signIns"));
        assert_eq!(canonical("/v1.0/auditLogs/signIns"), None);
        assert_eq!(canonical("/v1.0/auditLogs/signIns/").as_deref(), Some("/v1.0/auditLogs/signIns"));
        assert_eq!(canonical("/beta/auditlogs/signins/ABC-def").as_deref(), Some("/beta/auditLogs/signIns/ABC-def"));
        assert_eq!(canonical("/"), None);
    }

    #[test]
    fn every_spelling_of_a_path_is_one_path() {
        let canonical = |p: &str| canonical_path(p).unwrap().unwrap_or_else(|| p.to_owned());
        for p in [
            "/v1%2E0/auditLogs/signIns/$count",
            "/v1.0/auditLogs/signIns/%24count",
            "//v1.0//auditLogs/signIns/$count",
            "/v1.0/./auditLogs/x/../signIns/$count/",
            "/%76%31%2e%30/AUDITLOGS/SIGNINS/%24COUNT",
        ] {
            assert_eq!(canonical(p), "/v1.0/auditLogs/signIns/$count", "{p}");
        }
        assert_eq!(canonical("/%69ngest/signIns"), "/ingest/signIns");
        assert_eq!(canonical("/../../ingest/signIns"), "/ingest/signIns");
        assert_eq!(canonical("/v1.0/auditLogs/signIns/a%20b"), "/v1.0/auditLogs/signIns/a%20b");
        for bad in ["/v1.0/auditLogs%2FsignIns", "/v1.0/%ff", "/v1.0/a%00b", "/v1.0/a%0Ab"] {
            assert!(canonical_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_ids_look_like_guids() {
        assert!(domain::ids::is_guid(&new_request_id()));
    }
}
