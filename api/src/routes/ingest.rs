//! `POST /ingest/{kind}`: a producer pushes Graph-shaped events into its own tenant.
//!
//! The body is NDJSON or a JSON array. Every record is validated before anything is stored; one
//! bad record refuses the whole batch with the index and reason of each bad one. Records are
//! stored atomically and idempotently by id.

use actix_web::{HttpRequest, HttpResponse, web};
use domain::ids::TenantId;
use domain::query::EntitySet;
use domain::sets::SetKind;
use futures_util::StreamExt;
use serde_json::{Map, Value};
use storage::{IngestOutcome, Record, RiskyUserChange, SignInRecord, StorageResult, Store};

use crate::auth::Caller;
use crate::error::{ApiError, RecordError};
use crate::state::AppState;

/// Bad records listed in one error response (the total is always given).
const MAX_LISTED_ERRORS: usize = 100;

/// The latest event time an ingested record may have at `now_ticks`: `ingest_max_future_skew_seconds`
/// ahead.
#[must_use]
pub fn latest_event_ticks(now_ticks: i64, config: &crate::config::Config) -> i64 {
    let skew = i64::try_from(config.ingest_max_future_skew_seconds).unwrap_or(i64::MAX / 2);
    now_ticks.saturating_add(skew.saturating_mul(domain::time::TICKS_PER_SECOND))
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
pub struct Batch {
    records: Records,
    /// The latest event time (ticks) a record may have: now plus the allowed clock skew.
    latest: i64,
}

#[derive(Debug)]
enum Records {
    SignIns(Vec<SignInRecord>),
    /// Records of a set stored through its registry (audits, risk detections).
    Documents(&'static EntitySet, Vec<Record>),
    RiskyUsers(Vec<RiskyUserChange>),
}

impl Batch {
    /// An empty batch of `kind` whose records may be dated up to `latest` (ticks).
    ///
    /// # Errors
    /// [`ApiError::NotFound`] for a set that is not ingested on its own.
    pub fn new(kind: SetKind, latest: i64) -> Result<Self, ApiError> {
        let records = match kind {
            SetKind::SignIns => Records::SignIns(Vec::new()),
            SetKind::DirectoryAudits | SetKind::RiskDetections => Records::Documents(kind.registry(), Vec::new()),
            SetKind::RiskyUsers => Records::RiskyUsers(Vec::new()),
            // Written by the risky-user changes they record, never pushed on their own.
            SetKind::RiskyUserHistory => return Err(not_ingested(kind.segment())),
        };
        Ok(Self { records, latest })
    }

    /// The records in the batch.
    #[must_use]
    pub fn len(&self) -> usize {
        match &self.records {
            Records::SignIns(r) => r.len(),
            Records::Documents(_, r) => r.len(),
            Records::RiskyUsers(r) => r.len(),
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the records, keeping the batch's set.
    pub fn clear(&mut self) {
        match &mut self.records {
            Records::SignIns(r) => r.clear(),
            Records::Documents(_, r) => r.clear(),
            Records::RiskyUsers(r) => r.clear(),
        }
    }

    /// Validates `doc` as a record of the batch's data set (for `tenant`) and adds it.
    ///
    /// # Errors
    /// Why the document is not a valid record; the batch is unchanged then.
    pub fn push(&mut self, tenant: &TenantId, doc: Map<String, Value>) -> Result<(), String> {
        let latest = self.latest;
        match &mut self.records {
            Records::SignIns(r) => {
                let record = SignInRecord::from_document(tenant, doc)?;
                not_later(SetKind::SignIns, record.created_ticks(), latest)?;
                r.push(record);
            }
            Records::Documents(set, r) => {
                let record = Record::from_document(set, doc)?;
                not_later(set.kind, record.ticks(), latest)?;
                r.push(record);
            }
            Records::RiskyUsers(r) => {
                let record = RiskyUserChange::from_document(doc)?;
                not_later(SetKind::RiskyUsers, record.ticks(), latest)?;
                r.push(record);
            }
        }
        Ok(())
    }

    /// Stores the batch for `tenant`, all or nothing.
    ///
    /// # Errors
    /// Database errors; nothing is stored then.
    pub fn store(self, store: &Store, tenant: &TenantId) -> StorageResult<IngestOutcome> {
        match self.records {
            Records::SignIns(r) => store.ingest_sign_ins(tenant, r),
            Records::Documents(_, r) => store.ingest_records(tenant, r),
            Records::RiskyUsers(r) => store.ingest_risky_users(tenant, r),
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
    // The whole body first, with its deadlines, and only then a slot: a slow client holds none.
    let body = read_body(&req, &mut payload, &state.config).await?;
    // Parsing, validating and storing hold the tenant's slot and a global one (`fairness`): each
    // batch's records are in memory only while it has them.
    let _slot = state.gates.ingest_slot(principal.tenant.as_str()).await.inspect_err(|_| {
        state.metrics.rejected(crate::metrics::Rejection::Budget);
    })?;

    let store = state.store.clone();
    let tenant = principal.tenant.clone();
    let default_tier = state.default_tier;
    let latest = latest_event_ticks(store.clock().now_ticks(), &state.config);
    let metrics = state.metrics.clone();
    let outcome = crate::observe::block(move || -> Result<storage::IngestOutcome, ApiError> {
        let mut records = 0usize;
        let batch = validate(kind, latest, &tenant, parse_body(&body, format)?.inspect(|_| records += 1));
        if let Err(ApiError::InvalidRecords { .. }) = &batch {
            metrics.refused(kind.segment(), records);
        }
        let batch = batch?;
        store.ensure_tenant(&tenant, default_tier)?;
        let outcome = batch.store(&store, &tenant)?;
        metrics.ingested(kind.segment(), &outcome);
        Ok(outcome)
    })
    .await??;
    tracing::info!(
        set = kind.segment(),
        inserted = outcome.inserted,
        duplicates = outcome.duplicates,
        expired = outcome.expired,
        "ingest batch stored"
    );
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "inserted": outcome.inserted,
        "duplicates": outcome.duplicates,
        "expired": outcome.expired,
    })))
}

/// Reads the whole body of an ingest request: at most `max_ingest_bytes`, its first byte within
/// `ingest_first_byte_timeout_ms`, and no pause longer than `ingest_idle_timeout_ms`. A body that
/// stalls is refused with 408 and nothing of it is kept.
///
/// # Errors
/// [`ApiError::PayloadTooLarge`], [`ApiError::RequestTimeout`], [`ApiError::BadRequest`] when the
/// connection breaks.
async fn read_body(
    req: &HttpRequest,
    payload: &mut web::Payload,
    config: &crate::config::Config,
) -> Result<web::BytesMut, ApiError> {
    let limit = config.max_ingest_bytes;
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
    let first_byte = std::time::Duration::from_millis(config.ingest_first_byte_timeout_ms);
    let idle = std::time::Duration::from_millis(config.ingest_idle_timeout_ms);
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    loop {
        let (wait, setting) = if body.is_empty() {
            (first_byte, "ingest_first_byte_timeout_ms")
        } else {
            (idle, "ingest_idle_timeout_ms")
        };
        let Ok(next) = tokio::time::timeout(wait, payload.next()).await else {
            return Err(ApiError::RequestTimeout(format!(
                "The body stopped arriving: nothing came for {} ms ({setting}) after {} bytes. Nothing was stored; \
                 send the batch again.",
                wait.as_millis(),
                body.len()
            )));
        };
        let Some(chunk) = next else { return Ok(body) };
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("The body could not be read: {e}.")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
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

fn as_object(v: Value) -> ParsedRecord {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(format!("a record must be a JSON object, not {}", kind_of(&other))),
    }
}

/// One NDJSON line (not blank) as a record.
fn record_of_line(line: &str) -> ParsedRecord {
    serde_json::from_str::<Value>(line).map_err(|e| format!("not valid JSON: {e}")).and_then(as_object)
}

/// Splits a body into documents; each entry is a record or the reason it is not one.
///
/// # Errors
/// [`ApiError::BadRequest`] when the body as a whole cannot be read (not UTF-8, not an array).
/// NDJSON is read line by line, so each record's JSON tree is dropped as soon as it has become a
/// stored record: peak memory stays near the body's size, not a multiple of it.
pub fn parse_body(body: &[u8], format: BodyFormat) -> Result<Box<dyn Iterator<Item = ParsedRecord> + '_>, ApiError> {
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
            Ok(Box::new(text.lines().filter(|l| !l.trim().is_empty()).map(record_of_line)))
        }
    }
}

/// Where a record of a stream is: its line (NDJSON, from 1) or its place in the array (from 0,
/// as the HTTP path's `index`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Line(usize),
    Element(usize),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Line(n) => write!(f, "line {n}"),
            Self::Element(n) => write!(f, "record {n}"),
        }
    }
}

/// Why [`read_records`] stopped before the end.
#[derive(Debug)]
pub enum ReadError<E> {
    /// The stream as a whole cannot be read: an I/O error, or a JSON array that is not valid
    /// JSON (past a syntax error, no further element can be found).
    Unreadable(String),
    /// The callback returned this error.
    Stopped(E),
}

/// Reads the records of `reader` one at a time, in order, and calls `each` with the position and
/// the record (or why it is not one): only one record is in memory at a time, whatever the
/// stream's size. NDJSON is read line by line (blank lines skipped); a JSON array element by
/// element.
///
/// # Errors
/// [`ReadError::Unreadable`] for an I/O error or a JSON array that is not valid JSON;
/// [`ReadError::Stopped`] with the error of `each`, which ends the reading.
pub fn read_records<R, E, F>(mut reader: R, format: BodyFormat, mut each: F) -> Result<(), ReadError<E>>
where
    R: std::io::BufRead,
    F: FnMut(Position, ParsedRecord) -> Result<(), E>,
{
    match format {
        BodyFormat::Ndjson => {
            let mut line = Vec::new();
            let mut number = 0;
            loop {
                line.clear();
                let read = reader
                    .read_until(b'\n', &mut line)
                    .map_err(|e| ReadError::Unreadable(format!("reading line {}: {e}", number + 1)))?;
                if read == 0 {
                    return Ok(());
                }
                number += 1;
                let record = match std::str::from_utf8(&line) {
                    Ok(text) if text.trim().is_empty() => continue,
                    Ok(text) => record_of_line(text),
                    Err(e) => Err(format!("not UTF-8: {e}")),
                };
                each(Position::Line(number), record).map_err(ReadError::Stopped)?;
            }
        }
        BodyFormat::JsonArray => {
            let mut stopped = None;
            let mut de = serde_json::Deserializer::from_reader(reader);
            let read =
                serde::Deserializer::deserialize_seq(&mut de, Elements { each: &mut each, stopped: &mut stopped })
                    .and_then(|()| de.end());
            if let Some(e) = stopped {
                return Err(ReadError::Stopped(e));
            }
            read.map_err(|e| ReadError::Unreadable(format!("not a valid JSON array of records: {e}")))
        }
    }
}

/// Hands each element of a JSON array to `each` as soon as it is read.
struct Elements<'a, F, E> {
    each: &'a mut F,
    stopped: &'a mut Option<E>,
}

impl<'de, F, E> serde::de::Visitor<'de> for Elements<'_, F, E>
where
    F: FnMut(Position, ParsedRecord) -> Result<(), E>,
{
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array of records")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(v) = seq.next_element::<Value>()? {
            if let Err(e) = (self.each)(Position::Element(index), as_object(v)) {
                *self.stopped = Some(e);
                return Err(serde::de::Error::custom("stopped by the caller"));
            }
            index += 1;
        }
        Ok(())
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

/// Refuses an event dated after `latest`: a clock far ahead, or a forged date, would sit first in
/// every list and (on PostgreSQL) create partitions no purge reaches.
fn not_later(kind: SetKind, ticks: i64, latest: i64) -> Result<(), String> {
    if ticks <= latest {
        return Ok(());
    }
    Err(format!(
        "{}: {} is later than now plus the allowed clock skew ({}); events cannot come from the future",
        kind.registry().time_field,
        domain::time::format_ticks(ticks),
        domain::time::format_ticks(latest)
    ))
}

/// Validates every record; any failure refuses the batch, listing each bad record (the HTTP path;
/// `idtrail ingest` validates a file with [`Batch::push`] too, record by record).
///
/// # Errors
/// [`ApiError::BadRequest`] for an empty batch, [`ApiError::InvalidRecords`] listing bad records.
pub fn validate(
    kind: SetKind,
    latest: i64,
    tenant: &TenantId,
    docs: impl IntoIterator<Item = ParsedRecord>,
) -> Result<Batch, ApiError> {
    let mut errors = Vec::new();
    let mut total = 0;
    let mut batch = Batch::new(kind, latest)?;
    for (index, doc) in docs.into_iter().enumerate() {
        total += 1;
        if let Err(reason) = doc.and_then(|d| batch.push(tenant, d)) {
            errors.push(RecordError { index, reason });
        }
    }
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
