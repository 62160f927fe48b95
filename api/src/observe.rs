//! What the operators see of each request. The outermost middleware makes the request ids, runs
//! the request inside a `request` span that carries its request id (so every line logged while
//! serving it on the request's task names it), counts it in `/metrics` by route template, method
//! and status, and writes one access line. Also the log subscriber: human text, or JSON lines.
//!
//! It must never record a raw path (ids), a query string, a token or a user's name: the route is
//! the matched pattern, the caller is the verified token's tenant and client application id.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use tracing::Instrument;
use tracing_subscriber::fmt::MakeWriter;

use crate::auth::VerifiedToken;
use crate::metrics::UNMATCHED_ROUTE;
use crate::state::AppState;

/// The target of access lines (filter them with `log = "info,idtrail::access=off"`).
pub const ACCESS_TARGET: &str = "idtrail::access";

/// Times, counts and logs every request (outermost layer, so every answer is seen with its final
/// status).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let ids = crate::middleware::request_ids(&req);
    let method = req.method().as_str().to_owned();
    let metrics = req.app_data::<web::Data<AppState>>().map(|s| s.metrics.clone());
    let span = tracing::info_span!("request", request_id = %ids.request_id);
    let res = next.call(req).instrument(span.clone()).await?.map_into_boxed_body();
    let seconds = started.elapsed().as_secs_f64();
    let route = res.request().match_pattern().unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let status = res.status().as_u16();
    if let Some(metrics) = metrics {
        metrics.request(&method, &route, status, seconds);
        // A statement budget or a tenant's query slots refused it (`ApiError::to_response` marks it).
        if let Some(why) = res.response().extensions().get::<crate::metrics::Rejection>() {
            metrics.rejected(*why);
        }
    }
    let (tenant, client_app) = caller_of(&res);
    span.in_scope(|| {
        tracing::info!(
            target: ACCESS_TARGET,
            method,
            route,
            status,
            duration_ms = (seconds * 1e6).round() / 1e3,
            request_id = %ids.request_id,
            client_request_id = %ids.client_request_id,
            tenant,
            client_app,
            "request"
        );
    });
    Ok(res)
}

/// The verified caller's tenant and client application id (empty when the request had no valid
/// token, or none was looked at).
fn caller_of(res: &ServiceResponse<BoxBody>) -> (String, String) {
    let req = res.request();
    let tenant = match req.extensions().get::<VerifiedToken>() {
        Some(VerifiedToken(Ok(principal))) => principal.tenant.as_str().to_owned(),
        _ => return (String::new(), String::new()),
    };
    let client_app = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|token| crate::ratelimit::client_app(token.trim()))
        .unwrap_or_default();
    (tenant, client_app)
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event, with the span's fields (`request{request_id=...}:`).
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, the event's fields flattened
    /// (`message`, ...), and `span` with the request's `request_id`.
    Json,
}

impl LogFormat {
    /// `text` or `json`.
    ///
    /// # Errors
    /// Anything else, named.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("log_format must be text or json; got '{other}'")),
        }
    }
}

/// The log subscriber: `filter` (`RUST_LOG` wins when set and `from_env`), lines in `format` to
/// `writer`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: &str,
    from_env: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = from_env
        .then(|| tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").ok())
        .flatten()
        .or_else(|| tracing_subscriber::EnvFilter::try_new(filter).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        // Colours only on a terminal: a file or a journal gets plain text.
        LogFormat::Text => {
            Box::new(builder.with_ansi(from_env && std::io::IsTerminal::is_terminal(&std::io::stderr())).finish())
        }
        LogFormat::Json => {
            Box::new(builder.json().flatten_event(true).with_current_span(true).with_span_list(false).finish())
        }
    }
}

/// `web::block` inside the request's span: lines logged on the blocking thread (storage warnings,
/// a query's debug line) carry the request id too.
///
/// # Errors
/// As `web::block`: [`actix_web::error::BlockingError`] when the thread pool is gone.
pub async fn block<F, R>(f: F) -> Result<R, actix_web::error::BlockingError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = tracing::Span::current();
    web::block(move || span.in_scope(f)).await
}
