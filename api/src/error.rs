//! The one error type of the HTTP layer and its Graph envelope:
//! `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.
//! Every variant has its own status and Graph code; nothing unexpected leaks its cause.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};
use storage::StorageError;

/// The ids that tie a response to logs: ours, and the client's if it sent one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestIds {
    pub request_id: String,
    pub client_request_id: String,
}

/// One bad record of an ingest batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub index: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{message}")]
    InvalidRecords { message: String, records: Vec<RecordError> },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    /// A method the resource does not take; `allow` lists those it does (the `Allow` header).
    #[error("{message}")]
    MethodNotAllowed { message: String, allow: &'static str },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("Too many requests for this tenant and application: retry after {retry_after_secs} seconds.")]
    TooManyRequests { retry_after_secs: u64 },
    /// 429: the tenant already has `limit` requests doing database work (`fairness`).
    #[error(
        "This tenant already has {limit} requests reading from the database at once \
         (tenant_max_concurrent_queries); retry after {retry_after_secs} seconds."
    )]
    TenantBusy { limit: u32, retry_after_secs: u64 },
    /// 408: the request body stopped arriving.
    #[error("{0}")]
    RequestTimeout(String),
    /// 503: a statement ran past `statement_timeout_ms` (`budget_ms`, filled in by the envelope
    /// middleware, which knows the configuration) and was stopped.
    #[error("{}", query_budget_message(*.budget_ms))]
    QueryBudget { budget_ms: Option<u64> },
    /// 410: a delta token older than the set's retention (Graph's `syncStateNotFound`).
    #[error("{0}")]
    SyncStateNotFound(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// Graph's error code for the variant.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) | Self::InvalidRecords { .. } => "BadRequest",
            Self::Unauthorized(_) => "InvalidAuthenticationToken",
            Self::Forbidden { code, .. } => code,
            Self::NotFound(_) => "Request_ResourceNotFound",
            Self::MethodNotAllowed { .. } => "MethodNotAllowed",
            Self::PayloadTooLarge(_) => "RequestEntityTooLarge",
            Self::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Self::TooManyRequests { .. } | Self::TenantBusy { .. } => "TooManyRequests",
            Self::RequestTimeout(_) => "RequestTimeout",
            Self::QueryBudget { .. } => "ServiceUnavailable",
            Self::SyncStateNotFound(_) => "syncStateNotFound",
            Self::Unavailable(_) => "ServiceUnavailable",
            Self::Internal(_) => "InternalServerError",
        }
    }

    /// The error body, with the request's ids.
    #[must_use]
    pub fn envelope(&self, ids: &RequestIds) -> Value {
        let message = match self {
            // The cause of an internal error goes to the log, not to the client.
            Self::Internal(_) => {
                format!("An unexpected error occurred. Quote request-id {} when reporting it.", ids.request_id)
            }
            other => other.to_string(),
        };
        let mut error = json!({
            "code": self.code(),
            "message": message,
            "innerError": inner_error(ids),
        });
        if let Self::InvalidRecords { records, .. } = self {
            let details: Vec<Value> = records
                .iter()
                .map(|r| json!({"code": "InvalidRecord", "target": format!("[{}]", r.index), "index": r.index, "message": r.reason}))
                .collect();
            if let Some(object) = error.as_object_mut() {
                object.insert("details".into(), details.into());
            }
        }
        json!({ "error": error })
    }

    /// The full response for this error.
    #[must_use]
    pub fn to_response(&self, ids: &RequestIds) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        match self {
            Self::Unauthorized(_) => {
                res.insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="idtrail", error="invalid_token""#));
            }
            Self::Unavailable(_) => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            Self::QueryBudget { .. } => {
                res.insert_header((header::RETRY_AFTER, "5"));
                // Counted by `observe` as a budget rejection.
                res.extensions_mut().insert(crate::metrics::Rejection::Budget);
            }
            Self::TenantBusy { retry_after_secs, .. } => {
                res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
                res.extensions_mut().insert(crate::metrics::Rejection::Budget);
            }
            Self::TooManyRequests { retry_after_secs } => {
                res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::MethodNotAllowed { allow, .. } => {
                res.insert_header((header::ALLOW, *allow));
            }
            _ => {}
        }
        res.json(self.envelope(ids))
    }
}

/// What a request stopped at the statement budget is told.
fn query_budget_message(budget_ms: Option<u64>) -> String {
    let budget = budget_ms.map_or_else(|| "its time budget".to_owned(), |ms| format!("its time budget of {ms} ms"));
    format!(
        "The query ran past {budget} (statement_timeout_ms) and was stopped. Narrow it: add a createdDateTime \
         range, or filter on indexed properties such as userId, userPrincipalName, appId or status/errorCode."
    )
}

/// The envelope's `innerError`.
#[must_use]
pub fn inner_error(ids: &RequestIds) -> Value {
    json!({
        "date": domain::time::format_error_date(chrono::Utc::now()),
        "request-id": ids.request_id,
        "client-request-id": ids.client_request_id,
    })
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::InvalidRecords { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } | Self::TenantBusy { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::QueryBudget { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::SyncStateNotFound(_) => StatusCode::GONE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Without the request-id middleware the ids are empty; the middleware rebuilds the body.
    fn error_response(&self) -> HttpResponse {
        self.to_response(&RequestIds::default())
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Timeout => Self::QueryBudget { budget_ms: None },
            StorageError::Unavailable(m) => {
                tracing::warn!(error = %m, "database unavailable");
                Self::Unavailable("The database is unavailable; retry in a few seconds.".into())
            }
            StorageError::Busy(m) => {
                tracing::warn!(error = %m, "every database connection busy");
                Self::Unavailable(
                    "Every database connection is busy with other requests; retry in a few seconds.".into(),
                )
            }
            other => {
                tracing::error!(error = %other, "storage error");
                Self::Internal(other.to_string())
            }
        }
    }
}

impl From<domain::access::Denied> for ApiError {
    fn from(d: domain::access::Denied) -> Self {
        use domain::access::Denied;
        match d {
            Denied::Permission { needed } => Self::Forbidden {
                code: "Authentication_MSGraphPermissionMissing",
                message: format!(
                    "Calling principal does not have required MSGraph permissions {}",
                    needed.join(" or ")
                ),
            },
            Denied::License { needed: domain::ids::LicenseTier::P2 } => Self::Forbidden {
                code: "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                message: "This API is only available to tenants with an Entra ID (Azure AD) Premium P2 license.".into(),
            },
            Denied::License { .. } => Self::Forbidden {
                code: "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                message: domain::policy::NON_PREMIUM_MESSAGE.into(),
            },
            Denied::Role { allowed } => Self::Forbidden {
                code: "Authentication_RequestFromUnsupportedUserRole",
                message: format!(
                    "User is not in the allowed roles: {}.",
                    allowed.iter().map(|r| r.display_name()).collect::<Vec<_>>().join(", ")
                ),
            },
            Denied::AppOnly => Self::Forbidden {
                code: "Authorization_RequestDenied",
                message: format!(
                    "Insufficient privileges to complete the operation: this endpoint takes app-only tokens with the \
                     application role {}.",
                    domain::principal::INGEST_APP_ROLE
                ),
            },
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        Self::Unavailable("The service is shutting down or overloaded; retry in a few seconds.".into())
    }
}

/// A Graph error code for a status produced outside our handlers (actix's own errors).
#[must_use]
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequest",
        401 => "InvalidAuthenticationToken",
        403 => "Forbidden",
        404 => "Request_ResourceNotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        408 => "RequestTimeout",
        411 => "LengthRequired",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        _ if status.is_client_error() => "BadRequest",
        _ => "InternalServerError",
    }
}

/// A header value from an id we generated or validated (printable ASCII only).
#[must_use]
pub fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}
