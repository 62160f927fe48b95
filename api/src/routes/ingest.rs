//! `POST /ingest/{kind}`: a producer pushes Graph-shaped events into its own tenant.
//!
//! The body is NDJSON or a JSON array. Every record is validated before anything is stored; one
//! bad record refuses the whole batch with the index and reason of each bad one. Records are
//! stored atomically and idempotently by id.

use actix_web::{HttpRequest, HttpResponse, web};
use domain::ids::TenantId;
use domain::sets::SetKind;
use futures_util::StreamExt;
use serde_json::{Map, Value};
use storage::{IngestOutcome, Record, RiskyUserChange, SignInRecord, StorageResult, Store};

use crate::auth::Caller;
use crate::error::{ApiError, RecordError};
use crate::state::AppState;

/// Bad records listed in one error response (the total is always given).
const MAX_LISTED_ERRORS: usize = 100;

/// Batches read and stored at once. Each holds its body and its records in memory, and the
/// database takes one writer at a time anyway (SQLite) or gains little from more (PostgreSQL
/// COPY): more in flight only raises peak memory. Others wait their turn.
const BATCHES_IN_FLIGHT: usize = 2;

fn ingest_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(BATCHES_IN_FLIGHT))
}

/// The set ingested at `/ingest/{name}` (case-insensitive).
///
/// # Errors
/// [`ApiError::NotFound`] listing the ingest endpoints.
pub fn ingest_set(name: &str) -> Result<SetKind, ApiError> {
    SetKind::by_ingest_name(name).ok_or_else(|| not_ingested(name))
}

fn not_ingested(name: &str) -> ApiError {
    let available: Vec<String> =
        SetKind::ALL.iter().filter_map(|k| k.ingest_name()).map(|n| format!("/ingest/{n}")).collect();
    ApiError::NotFound(format!("There is no ingest endpoint for '{name}'. Available: {}.", available.join(", ")))
}

/// A validated batch of one data set.
#[derive(Debug)]
pub enum Batch {
    SignIns(Vec<SignInRecord>),
    Records(Vec<Record>),
    RiskyUsers(Vec<RiskyUserChange>),
}

impl Batch {
    /// Stores the batch for `tenant`, all or nothing.
    ///
    /// # Errors
    /// Database errors; nothing is stored then.
    pub fn store(self, store: &Store, tenant: &TenantId) -> StorageResult<IngestOutcome> {
        match self {
            Self::SignIns(r) => store.ingest_sign_ins(tenant, r),
            Self::Records(r) => store.ingest_records(tenant, r),
            Self::RiskyUsers(r) => store.ingest_risky_users(tenant, r),
        }
    }
}

pub async fn ingest(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    kind: web::Path<String>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let kind = ingest_set(&kind.into_inner())?;
    let principal = caller.0;
    // Ingest writes into the token's own tenant on any tier; the tier only decides what is expired.
    domain::access::authorize(&principal, domain::access::Endpoint::Ingest, domain::ids::LicenseTier::P2, true)?;
    let format = body_format(&req)?;
    let _slot = ingest_slots()
        .acquire()
        .await
        .map_err(|_| ApiError::Unavailable("The service is shutting down; retry the batch.".into()))?;
    let limit = state.config.max_ingest_bytes;
    let too_large = || {
        ApiError::PayloadTooLarge(format!("The body is larger than the limit of {limit} bytes; send smaller batches."))
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("The body could not be read: {e}.")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }

    let store = state.store.clone();
    let tenant = principal.tenant.clone();
    let default_tier = state.default_tier;
    let outcome = web::block(move || -> Result<storage::IngestOutcome, ApiError> {
        let docs = parse_body(&body, format)?;
        let batch = validate(kind, &tenant, docs)?;
        store.ensure_tenant(&tenant, default_tier)?;
        Ok(batch.store(&store, &tenant)?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "inserted": outcome.inserted,
        "duplicates": outcome.duplicates,
        "expired": outcome.expired,
    })))
}

/// How a batch is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Ndjson,
    JsonArray,
}

fn body_format(req: &HttpRequest) -> Result<BodyFormat, ApiError> {
    let ct = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Ok(BodyFormat::Ndjson),
        "application/json" => Ok(BodyFormat::JsonArray),
        "" => Err(ApiError::UnsupportedMediaType(
            "Send Content-Type: application/x-ndjson (one JSON object per line) or application/json (an array).".into(),
        )),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type '{other}' is not accepted; use application/x-ndjson or application/json."
        ))),
    }
}

/// A record of a batch, or why it is not one.
pub type ParsedRecord = Result<Map<String, Value>, String>;

/// Splits a body into documents; each entry is a record or the reason it is not one.
///
/// # Errors
/// [`ApiError::BadRequest`] when the body as a whole cannot be read (not UTF-8, not an array).
/// NDJSON is read line by line, so each record's JSON tree is dropped as soon as it has become a
/// stored record: peak memory stays near the body's size, not a multiple of it.
pub fn parse_body(body: &[u8], format: BodyFormat) -> Result<Box<dyn Iterator<Item = ParsedRecord> + '_>, ApiError> {
    fn as_object(v: Value) -> ParsedRecord {
        match v {
            Value::Object(m) => Ok(m),
            other => Err(format!("a record must be a JSON object, not {}", kind_of(&other))),
        }
    }
    match format {
        BodyFormat::JsonArray => {
            let v: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::BadRequest(format!("The body is not valid JSON: {e}.")))?;
            match v {
                Value::Array(items) => Ok(Box::new(items.into_iter().map(as_object))),
                Value::Object(m) => Ok(Box::new(std::iter::once(Ok(m)))),
                other => Err(ApiError::BadRequest(format!(
                    "The body must be a JSON array of records (or one record), not {}.",
                    kind_of(&other)
                ))),
            }
        }
        BodyFormat::Ndjson => {
            let text =
                std::str::from_utf8(body).map_err(|e| ApiError::BadRequest(format!("The body is not UTF-8: {e}.")))?;
            Ok(Box::new(text.lines().filter(|l| !l.trim().is_empty()).map(|l| {
                serde_json::from_str::<Value>(l).map_err(|e| format!("not valid JSON: {e}")).and_then(as_object)
            })))
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The records `read` accepts; the others are listed in `errors` by index.
fn checked<T>(
    docs: impl Iterator<Item = ParsedRecord>,
    errors: &mut Vec<RecordError>,
    total: &mut usize,
    read: impl Fn(Map<String, Value>) -> Result<T, String>,
) -> Vec<T> {
    let mut out = Vec::new();
    for (index, doc) in docs.enumerate() {
        *total += 1;
        match doc.and_then(&read) {
            Ok(r) => out.push(r),
            Err(reason) => errors.push(RecordError { index, reason }),
        }
    }
    out
}

/// Validates every record; any failure refuses the batch, listing each bad record (the HTTP path
/// and `idtrail ingest` alike).
///
/// # Errors
/// [`ApiError::BadRequest`] for an empty batch, [`ApiError::InvalidRecords`] listing bad records.
pub fn validate(
    kind: SetKind,
    tenant: &TenantId,
    docs: impl IntoIterator<Item = ParsedRecord>,
) -> Result<Batch, ApiError> {
    let mut errors = Vec::new();
    let mut total = 0;
    let docs = docs.into_iter();
    let batch = match kind {
        SetKind::SignIns => {
            Batch::SignIns(checked(docs, &mut errors, &mut total, |d| SignInRecord::from_document(tenant, d)))
        }
        SetKind::DirectoryAudits | SetKind::RiskDetections => {
            Batch::Records(checked(docs, &mut errors, &mut total, |d| Record::from_document(kind.registry(), d)))
        }
        SetKind::RiskyUsers => {
            Batch::RiskyUsers(checked(docs, &mut errors, &mut total, RiskyUserChange::from_document))
        }
        // Written by the risky-user changes they record, never pushed on their own.
        SetKind::RiskyUserHistory => return Err(not_ingested(kind.segment())),
    };
    if total == 0 {
        return Err(ApiError::BadRequest("The body holds no records.".into()));
    }
    if errors.is_empty() {
        return Ok(batch);
    }
    let count = errors.len();
    errors.truncate(MAX_LISTED_ERRORS);
    let listed =
        if count > MAX_LISTED_ERRORS { format!(" (the first {MAX_LISTED_ERRORS} are listed)") } else { String::new() };
    Err(ApiError::InvalidRecords {
        message: format!(
            "{count} of {total} records are invalid{listed}; nothing was stored. First: record {}: {}",
            errors.first().map_or(0, |e| e.index),
            errors.first().map_or("", |e| e.reason.as_str())
        ),
        records: errors,
    })
}
